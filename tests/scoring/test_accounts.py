"""Accounts: each person's account, the roll-ups over a population equal to a loop per
account, the account fields read by rules and stages, and a batch of one scoring as a
batch of many given the same roll-ups."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    AccountRollups,
    ActivityFrame,
    ContactFrame,
    InputError,
    RuleSet,
    population_rollups,
    score,
)
from scoring.records import Activity, Contact
from tests.helpers import NOW, act, person, rules

ACCOUNTS = rules(
    """
    rules:
      - id: colleague_demo
        label: someone else at the account asked for a demo
        contact: {account_demo_requests: {gte: 1}}
        points: 30
      - {id: busy_account, value: account_engaged_people, per: 1, points: 5, cap: 20}
      - {id: demo, activity: demo_request, points: 10}
    stages:
      ladder:
        - {name: prospect}
        - {name: committee, when: {contact: {account_engaged_people: {gte: 3}}}}
    accounts:
      engagement: {activity: [page_view, form_submission, demo_request], window_days: 90}
      counts:
        demo_requests: {activity: demo_request, window_days: 30}
    """
)
FREE = {"gmail.com"}
ENGAGED = {"page_view", "form_submission", "demo_request"}
DOMAINS = ["acme.io", "beta.com", "gmail.com"]


def _frames(contacts: list[Contact], acts: list[Activity]) -> tuple[ContactFrame, ActivityFrame]:
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(acts, frame.ids)


def _rollups(ruleset: RuleSet, contacts: list[Contact], acts: list[Activity]) -> AccountRollups:
    rolled = population_rollups(ruleset, *_frames(contacts, acts), NOW.timestamp())
    assert rolled is not None
    return rolled


def _loop(contacts: list[Contact], acts: list[Activity]) -> dict[str, tuple[float, ...]]:
    """The roll-ups one account and one activity at a time."""
    key_of: dict[str, str] = {}
    for c in contacts:
        account = c.attributes.get("account_id")
        domain = (c.email or "").rpartition("@")[2]
        if account is not None and str(account).strip():
            key_of[c.id] = f"account_id:{str(account).strip().casefold()}"
        elif domain and domain not in FREE:
            key_of[c.id] = f"email_domain:{domain}"
    owners: dict[str, set[str]] = defaultdict(set)  # a domain joins its one account with an id
    for c in contacts:
        domain = (c.email or "").rpartition("@")[2]
        if key_of.get(c.id, "").startswith("account_id:") and domain not in FREE:
            owners[domain].add(key_of[c.id])
    for c in contacts:
        domain = key_of.get(c.id, "").removeprefix("email_domain:")
        if key_of.get(c.id, "").startswith("email_domain:") and len(owners[domain]) == 1:
            key_of[c.id] = next(iter(owners[domain]))
    engagement: dict[str, int] = defaultdict(int)
    demos: dict[str, int] = defaultdict(int)
    for a in acts:
        age = (NOW - a.occurred_at).total_seconds() / 86_400
        if a.type.value in ENGAGED and 0 <= age <= 90:
            engagement[a.contact_id] += 1
        if a.type.value == "demo_request" and 0 <= age <= 30:
            demos[a.contact_id] += 1
    out: dict[str, list[float]] = {}
    for c in contacts:
        key = key_of.get(c.id)
        if key is None:
            continue
        row = out.setdefault(key, [0.0, 0.0, 0.0, 0.0, 0.0])
        mine = engagement[c.id]
        row[0] += 1
        row[1] += mine > 0
        row[2] += mine
        row[3] = max(row[3], mine)
        row[4] += demos[c.id]
    return {k: tuple(v) for k, v in out.items()}


TYPES = ["page_view", "form_submission", "demo_request", "email_sent", "purchase"]
people_st = st.lists(
    st.tuples(st.sampled_from(DOMAINS), st.none() | st.sampled_from(["A1", " a1 ", "B2", "  "])),
    min_size=1,
    max_size=12,
)
acts_st = st.lists(
    st.tuples(st.integers(0, 11), st.sampled_from(TYPES), st.floats(-5, 200)), max_size=40
)


def _population(
    people: list[tuple[str, str | None]], events: list[tuple[int, str, float]]
) -> tuple[list[Contact], list[Activity]]:
    contacts = [
        person(f"c{i}", f"p{i}@{domain}", **({} if acc is None else {"account_id": acc}))
        for i, (domain, acc) in enumerate(people)
    ]
    acts = [
        act(kind, days, f"c{who % len(contacts)}", form=f"f{n}")
        for n, (who, kind, days) in enumerate(events)
    ]
    return contacts, acts


@settings(max_examples=60, deadline=None)
@given(people_st, acts_st)
def test_rollups_equal_a_loop_per_account(
    people: list[tuple[str, str | None]], events: list[tuple[int, str, float]]
) -> None:
    contacts, acts = _population(people, events)
    rolled = _rollups(ACCOUNTS, contacts, acts)
    assert rolled.names == ("demo_requests",)
    assert dict(rolled.accounts) == _loop(contacts, acts)


@settings(max_examples=30, deadline=None)
@given(people_st, acts_st)
def test_a_batch_of_one_scores_as_the_batch(
    people: list[tuple[str, str | None]], events: list[tuple[int, str, float]]
) -> None:
    contacts, acts = _population(people, events)
    rolled = _rollups(ACCOUNTS, contacts, acts)
    many = score(ACCOUNTS, *_frames(contacts, acts), NOW, accounts=rolled)
    for row, contact in enumerate(contacts):
        own = [a for a in acts if a.contact_id == contact.id]
        one = score(ACCOUNTS, *_frames([contact], own), NOW, accounts=rolled)
        assert one.total[0] == many.total[row]
        assert one.row(0)["stage"] == many.row(row)["stage"]


@settings(max_examples=30, deadline=None)
@given(people_st, acts_st)
def test_the_frame_rolled_up_over_scores_as_with_its_roll_ups_read_back(
    people: list[tuple[str, str | None]], events: list[tuple[int, str, float]]
) -> None:
    contacts, acts = _population(people, events)
    frames = _frames(contacts, acts)
    rolled = population_rollups(ACCOUNTS, *frames, NOW.timestamp())
    assert rolled is not None and rolled.table is not None  # read by code, no lookup
    read_back = AccountRollups.from_dict(rolled.as_dict())
    assert read_back.table is None and read_back == rolled
    fresh, again = (
        score(ACCOUNTS, *frames, NOW, accounts=rolled),
        score(ACCOUNTS, *frames, NOW, accounts=read_back),
    )
    assert fresh.total.tolist() == again.total.tolist()
    assert [fresh.row(i) for i in range(len(contacts))] == [
        again.row(i) for i in range(len(contacts))
    ]


def test_someone_else_at_the_account_asked_for_a_demo() -> None:
    contacts = [
        person("c1", "ann@acme.io"),
        person("c2", "bob@acme.io"),
        person("c3", "cy@gmail.com"),
        person("c4", "di@gmail.com"),
    ]
    acts = [act("demo_request", 2, "c1"), act("demo_request", 2, "c3")]
    rolled = _rollups(ACCOUNTS, contacts, acts)
    assert set(rolled.accounts) == {"email_domain:acme.io"}  # free mail forms no account
    batch = score(ACCOUNTS, *_frames(contacts, acts), NOW, accounts=rolled)
    # c1 asked itself (10 points, one engaged person: 5); c2 gets the colleague's demo
    assert [float(t) for t in batch.total] == [15.0, 35.0, 10.0, 0.0]


def test_an_engaged_committee_reaches_its_stage() -> None:
    contacts = [person(f"c{i}", f"p{i}@acme.io") for i in range(4)]
    acts = [act("page_view", 1, f"c{i}") for i in range(3)]
    rolled = _rollups(ACCOUNTS, contacts, acts)
    assert rolled.accounts["email_domain:acme.io"][:4] == (4.0, 3.0, 3.0, 1.0)
    batch = score(ACCOUNTS, *_frames(contacts, acts), NOW, accounts=rolled)
    assert [batch.row(i)["stage"] for i in range(4)] == ["committee"] * 4
    alone = score(
        ACCOUNTS, *_frames(contacts[3:], []), NOW, accounts=AccountRollups(("demo_requests",))
    )
    assert alone.row(0)["stage"] == "prospect"  # an account the roll-ups lack: its only person


def test_roll_ups_are_required_and_must_count_the_same() -> None:
    frames = _frames([person()], [])
    with pytest.raises(InputError, match="population_rollups"):
        score(ACCOUNTS, *frames, NOW)
    with pytest.raises(InputError, match="other activities"):
        score(ACCOUNTS, *frames, NOW, accounts=AccountRollups(("other",)))


def test_rollups_round_trip_and_say_which_accounts_changed() -> None:
    before = AccountRollups(("d",), {"a": (1.0, 0.0, 0.0, 0.0, 0.0), "b": (2.0, 1, 3, 3, 0)})
    after = AccountRollups.from_dict(before.as_dict())
    assert after == before and after.changed(before) == set()
    moved = AccountRollups(("d",), {"a": (1.0, 1, 1, 1, 0), "c": (1.0, 0, 0, 0, 0)})
    assert moved.changed(before) == {"a", "b", "c"}
    assert moved.changed(AccountRollups(("e",))) == {"a", "c"}
    assert moved.changed(None) == {"a", "c"}


def test_the_worked_example_scores_as_docs_rules_says() -> None:
    from pathlib import Path

    from scoring import load_rules

    ruleset = load_rules(Path(__file__).parents[2] / "examples" / "accounts.yaml")
    contacts = [
        person("ann", "ann@acme.io"),
        person("bob", "bob@acme.io"),
        person("cy", "cy@acme.io"),
        person("dee", "dee@gmail.com"),
        person("eve", "eve@beta.com"),
    ]
    acts = [
        act("demo_request", 3, "ann"),
        act("page_view", 5, "bob", url="https://acme.example/pricing"),
        act("page_view", 40, "cy", url="https://acme.example/blog"),
        act("demo_request", 2, "dee"),
        act("page_view", 1, "eve", url="https://acme.example/pricing"),
    ]
    rolled = _rollups(ruleset, contacts, acts)
    assert rolled.accounts["email_domain:acme.io"] == (3.0, 3.0, 3.0, 1.0, 1.0)
    batch = score(ruleset, *_frames(contacts, acts), NOW, accounts=rolled)
    rows = [batch.row(i) for i in range(len(batch))]
    assert [r["score"] for r in rows] == [70.0, 70.0, 60.0, 40.0, 20.0]
    assert [r["stage"] for r in rows][:3] == ["Buying committee"] * 3
    assert rows[3]["stage"] == rows[4]["stage"] == "Prospect"
    assert rows[1]["reasons"].startswith("+30 someone else at the account asked for a demo")


def test_the_accounts_blocks_of_the_rule_reference_validate() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text("utf-8")
    section = text.split("## Accounts\n", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```yaml\n")[1:]]
    assert len(blocks) == 3
    for block in blocks:
        head = "dimensions: {fit: {}, activity: {}, account: {}}\n"
        needed = "" if "rules:" in block else "rules: [{id: v, activity: page_view, points: 1}]\n"
        ruleset = rules(head + needed + block)
        assert ruleset.accounts is not None
        assert ruleset.accounts.key == ["account_id", "email_domain"]


def test_the_domains_of_many_addresses_name_the_same_accounts_as_few_do() -> None:
    """From `BULK` addresses on, the distinct domains are found by Arrow; the accounts are
    those a contact at a time would give (a free-mail domain none), and a frame's keys are
    worked out once."""
    import numpy as np

    from scoring import account_keys
    from scoring.addresses import BULK
    from scoring.frames import free_email_domains

    spec = ACCOUNTS.accounts
    assert spec is not None
    size = BULK + 500
    domains = [f"firm{i % 700}.example" for i in range(size - 300)] + ["gmail.com"] * 300
    emails = np.array([f"p{i}@{d}" for i, d in enumerate(domains)], dtype=object)
    ids = np.array([str(i) for i in range(size)], dtype=object)
    frame = ContactFrame.from_arrays(ids, (np.arange(size, dtype=np.int32), emails), {})
    column = frame.column("email_domain")
    assert column is not None and getattr(column, "folded", False)  # the Arrow path
    keys = account_keys(spec, frame)
    assert account_keys(spec, frame) is keys  # once per frame
    free = free_email_domains()
    expected = [None if d in free else f"email_domain:{d}" for d in domains]
    assert [keys.value(row) for row in range(size)] == expected


def test_opens_are_not_engagement_unless_named() -> None:
    """Mail apps open messages themselves: by default an open engages nobody."""
    one = "rules: [{id: v, activity: page_view, points: 1}]\n"
    contacts = [person("c1", "ann@acme.io"), person("c2", "bob@acme.io")]
    acts = [act("email_open", 1, "c1"), act("email_open", 2, "c1"), act("page_view", 1, "c2")]
    default = _rollups(rules(one + "accounts: {}"), contacts, acts).accounts["email_domain:acme.io"]
    assert default[:4] == (2.0, 1.0, 1.0, 1.0)
    named = rules(one + "accounts: {engagement: {activity: [email_open, page_view]}}")
    assert _rollups(named, contacts, acts).accounts["email_domain:acme.io"][:4] == (2, 2, 3, 2)


# -- an address's domain joins the one account of that domain ------------------------------

DOMAIN_RULES = rules(
    """
    rules: [{id: v, activity: page_view, points: 1}]
    accounts: {}
    """
)


def _domain_people() -> list[Contact]:
    return [
        person("a", "a@acme.com", account_id=123),
        person("b", "b@ACME.com"),  # no company: joins 123, its domain's one account
        person("c", "c@beta.io", account_id=7),
        person("d", "d@beta.io", account_id=8),
        person("e", "e@beta.io"),  # two companies have beta.io: stays apart
        person("f", "f@gmail.com", account_id=5),
        person("g", "g@gmail.com"),  # free-mail never joins
        person("h", "h@gamma.dev"),  # gamma.dev is company 9's `domain`
        person("i", "i@eu.acme.com"),  # another domain
    ]


def test_a_person_without_a_company_joins_the_one_account_of_their_domain() -> None:
    from scoring.account_domains import domain_accounts
    from scoring.accounts import account_keys

    companies = {"account_id:9": {"domain": "https://www.Gamma.dev/"}, "account_id:5": {}}
    frame = ContactFrame.from_records(_domain_people())
    domains = domain_accounts(DOMAIN_RULES.accounts, frame, companies)
    assert domains == {"acme.com": "account_id:123", "gamma.dev": "account_id:9"}
    keys = account_keys(DOMAIN_RULES.accounts, frame, domains)
    named = [None if c < 0 else keys.categories[c] for c in keys.codes.tolist()]
    assert named == [
        "account_id:123",
        "account_id:123",
        "account_id:7",
        "account_id:8",
        "email_domain:beta.io",
        "account_id:5",
        None,
        "account_id:9",
        "email_domain:eu.acme.com",
    ]
    rolled = population_rollups(DOMAIN_RULES, *_frames(_domain_people(), []), 0.0, companies)
    assert rolled is not None and rolled.domains == domains
    assert (
        rolled.accounts["account_id:123"][0] == 2 and "email_domain:acme.com" not in rolled.accounts
    )
    assert AccountRollups.from_dict(rolled.as_dict()) == rolled


def test_a_domain_joined_person_scored_alone_scores_as_in_the_population() -> None:
    contacts = _domain_people()
    acts = [act("page_view", 1, "a"), act("page_view", 2, "b")]
    ruleset = rules(
        """
        rules:
          - {id: v, activity: page_view, points: 1}
          - {id: two, contact: {account_people: {gte: 2}}, points: 10}
          - {id: acme, contact: {account: account_id:123}, points: 100}
        accounts: {}
        """
    )
    rolled = population_rollups(ruleset, *_frames(contacts, acts), NOW.timestamp())
    assert rolled is not None
    many = score(ruleset, *_frames(contacts, acts), NOW, accounts=rolled)
    one = score(ruleset, *_frames([contacts[1]], [acts[1]]), NOW, accounts=rolled)
    assert one.total[0] == many.total[1] == 1 + 10 + 100
