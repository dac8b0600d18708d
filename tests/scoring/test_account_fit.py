"""Account fit and stage: once per account from its company's attributes (else its
people's commonest), the stage over fit and roll-ups, both read by contact rules, and a
batch of one scoring as a batch of many given the same roll-ups."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    ActivityFrame,
    ContactFrame,
    RuleFileError,
    account_keys,
    population_rollups,
    score,
)
from scoring.account_fit import company_columns
from scoring.records import Activity, Contact
from tests.helpers import NOW, act, person, rules

FIT = rules(
    """
    rules:
      - {id: fitting_account, contact: {account_fit: {gte: 20}}, points: 7}
      - {id: hot_account, contact: {account_stage: hot}, points: 3}
      - {id: demo, activity: demo_request, points: 10}
    accounts:
      fit:
        - {id: saas, label: software company, company: {industry: [SaaS, Software]}, points: 20}
        - {id: big, company: {employees: {gte: 100}}, points: 10}
        - {id: competitor, company: {industry: Consulting}, points: -40}
      stages:
        - {name: target}
        - {name: engaged, when: {account_engaged_people: {gte: 1}}}
        - {name: hot, when: {account_fit: {gte: 30}, account_engaged_people: {gte: 2}}}
    """
)


def _frames(contacts: list[Contact], acts: list[Activity]) -> tuple[ContactFrame, ActivityFrame]:
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(acts, frame.ids)


def test_fit_and_stage_from_the_people_of_a_domain_account() -> None:
    contacts = [
        person("c1", "ann@acme.io", industry="SaaS", employees=250),
        person("c2", "bob@acme.io", industry="saas", employees=40),
        person("c3", "cy@acme.io", industry="Retail", employees=250),
        person("c4", "di@beta.com", industry="Consulting"),
        person("c5", "ed@gmail.com", industry="SaaS", employees=900),  # free mail: no account
    ]
    acts = [act("page_view", 2, "c1"), act("demo_request", 1, "c2"), act("page_view", 1, "c4")]
    frames = _frames(contacts, acts)
    rolled = population_rollups(FIT, *frames, NOW.timestamp())
    assert rolled is not None
    # acme: saas twice (case aside), 250 employees twice: 20 + 10
    assert rolled.fit == {"email_domain:acme.io": 30.0, "email_domain:beta.com": -40.0}
    assert rolled.stage == {"email_domain:acme.io": "hot", "email_domain:beta.com": "engaged"}
    batch = score(FIT, *frames, NOW, accounts=rolled)
    assert [float(t) for t in batch.total] == [10.0, 20.0, 10.0, 0.0, 0.0]
    assert batch.row(1)["reasons"].startswith("+10 demo")


def test_a_company_record_wins_over_the_people() -> None:
    contacts = [
        person("c1", "ann@acme.io", account_id="77", industry="Retail"),
        person("c2", "bob@beta.io", industry="Retail"),
    ]
    frames = _frames(contacts, [])
    companies = {"account_id:77": {"industry": "Software", "employees": 5000}}
    rolled = population_rollups(FIT, *frames, NOW.timestamp(), companies)
    assert rolled is not None
    assert rolled.fit == {"account_id:77": 30.0, "email_domain:beta.io": 0.0}
    assert rolled.stage == {"account_id:77": "target", "email_domain:beta.io": "target"}
    again = population_rollups(FIT, *frames, NOW.timestamp())
    assert again is not None and again.fit["account_id:77"] == 0.0  # Retail, from c1 alone
    assert again.changed(rolled) == {"account_id:77"}


def test_an_account_the_rollups_lack_has_no_fit_or_stage() -> None:
    frames = _frames([person("c1", "ann@acme.io", industry="SaaS")], [])
    rolled = population_rollups(FIT, *frames, NOW.timestamp())
    assert rolled is not None
    alone = _frames([person("c9", "zed@new.io", industry="SaaS")], [])
    batch = score(FIT, *alone, NOW, accounts=rolled)
    assert float(batch.total[0]) == 0.0


people_st = st.lists(
    st.tuples(
        st.sampled_from(["a.io", "b.io", "c.io", "gmail.com"]),
        st.none() | st.sampled_from(["SaaS", "saas", "Retail", "Bank"]),
        st.none() | st.sampled_from([10, 100, 250]),
    ),
    min_size=1,
    max_size=15,
)


def _loop_commonest(values: list[object]) -> object:
    counts = Counter(values)
    best = max(counts.values())
    tied = [v for v in counts if counts[v] == best]
    return min(tied)  # type: ignore[type-var]


@settings(max_examples=60, deadline=None)
@given(people_st)
def test_people_attributes_are_the_commonest_value_per_account(
    people: list[tuple[str, str | None, int | None]],
) -> None:
    contacts = [
        person(f"c{i}", f"p{i}@{domain}", industry=industry, employees=size)
        for i, (domain, industry, size) in enumerate(people)
    ]
    frame = ContactFrame.from_records(contacts)
    spec = FIT.accounts
    assert spec is not None
    order = ["email_domain:a.io", "email_domain:b.io", "email_domain:c.io", "account_id:9"]
    companies = {"account_id:9": {"industry": "Bank", "employees": 7}}
    columns = company_columns(spec, account_keys(spec, frame), frame, companies, order)
    for name, index in (("industry", 1), ("employees", 2)):
        expected: list[object] = []
        for key in order[:3]:
            values = [
                row[index].casefold() if isinstance(row[index], str) else row[index]
                for row in people
                if f"email_domain:{row[0]}" == key and row[index] is not None
            ]
            expected.append(_loop_commonest(values) if values else None)
        expected.append(companies["account_id:9"][name])
        column = columns[name]
        found = [column.value(row) for row in range(len(order))]
        assert [float(v) if name == "employees" and v is not None else v for v in found] == [
            float(v) if name == "employees" and v is not None else v for v in expected
        ]


@settings(max_examples=30, deadline=None)
@given(
    people_st,
    st.lists(
        st.tuples(st.integers(0, 14), st.sampled_from(["page_view", "demo_request"])), max_size=20
    ),
)
def test_a_batch_of_one_reads_the_fit_a_batch_of_many_does(
    people: list[tuple[str, str | None, int | None]], events: list[tuple[int, str]]
) -> None:
    contacts = [
        person(f"c{i}", f"p{i}@{domain}", industry=industry, employees=size)
        for i, (domain, industry, size) in enumerate(people)
    ]
    acts = [act(kind, 1, f"c{who % len(contacts)}") for who, kind in events]
    rolled = population_rollups(FIT, *_frames(contacts, acts), NOW.timestamp())
    many = score(FIT, *_frames(contacts, acts), NOW, accounts=rolled)
    for row, contact in enumerate(contacts):
        own = [a for a in acts if a.contact_id == contact.id]
        one = score(FIT, *_frames([contact], own), NOW, accounts=rolled)
        assert one.total[0] == many.total[row]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("stages: [{name: a, when: {industry: SaaS}}]", "reads 'industry'"),
        ("stages: [{name: a}, {name: A}]", "stage name 'A' is used twice"),
        (
            "fit: [{id: x, company: {a: 1}, points: 1}, {id: x, company: {b: 1}, points: 1}]",
            "used twice",
        ),
        ("fit: [{id: x, company: {}, points: 1}]", "company"),
    ],
)
def test_bad_account_blocks_are_refused(block: str, message: str) -> None:
    with pytest.raises(RuleFileError, match=message):
        rules(f"rules: [{{id: v, activity: page_view, points: 1}}]\naccounts: {{{block}}}\n")


def test_the_account_fit_worked_example_scores_as_docs_rules_says() -> None:
    from pathlib import Path

    from scoring import load_rules

    ruleset = load_rules(Path(__file__).parents[2] / "examples" / "accounts.yaml")
    contacts = [
        person("ann", "ann@acme.io", account_id="7"),
        person("bob", "bob@acme.io", account_id="7"),
        person("cy", "cy@globex.com", industry="Software", employees=40),
        person("dee", "dee@globex.com", industry="software", employees=12),
    ]
    acts = [
        act("demo_request", 3, "ann"),
        act("page_view", 5, "bob", url="https://acme.example/pricing"),
        act("page_view", 1, "cy", url="https://acme.example/pricing"),
    ]
    companies = {"account_id:7": {"industry": "Software", "employees": 250, "country": "US"}}
    rolled = population_rollups(ruleset, *_frames(contacts, acts), NOW.timestamp(), companies)
    assert rolled is not None
    assert rolled.fit == {"account_id:7": 50.0, "email_domain:globex.com": 30.0}
    assert rolled.stage == {"account_id:7": "Buying", "email_domain:globex.com": "Target"}
    assert rolled.score("account_id:7") == 52.0  # fit 50, 2 engagement activities
    batch = score(ruleset, *_frames(contacts, acts), NOW, accounts=rolled)
    rows = [batch.row(i) for i in range(len(batch))]
    assert [r["score"] for r in rows] == [80.0, 70.0, 20.0, 10.0]
    assert rows[0]["reasons"].startswith("+40 asked for a demo")
    assert "target account" in rows[0]["reasons"]
    assert "target account" not in rows[2]["reasons"]


def test_account_score_without_fit_rules_is_the_engagement_as_written() -> None:
    """With no `fit` rules, a contact rule on `account_score` reads the account's
    engagement, the very score written to its company record (its fit counts 0)."""
    ruleset = rules(
        """
        rules:
          - {id: busy_account, contact: {account_score: {gte: 1}}, points: 5}
        accounts: {}
        """
    )
    contacts = [person("c1", "ann@acme.io"), person("c2", "bob@acme.io")]
    frames = _frames(contacts, [act("page_view", 1, "c2")])
    rolled = population_rollups(ruleset, *frames, NOW.timestamp())
    assert rolled is not None
    written = rolled.score("email_domain:acme.io")
    assert written >= 1
    batch = score(ruleset, *frames, NOW, accounts=rolled)
    assert [float(t) for t in batch.total] == [5.0, 5.0]
