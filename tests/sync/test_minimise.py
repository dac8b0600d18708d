"""Minimisation: the store keeps only the contact and activity fields the rules read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot import CAPABILITIES
from connectors.mailchimp import MAILCHIMP_CAPABILITIES
from sandbox import Sandbox
from scoring import Activity, ActivityType, Contact, RuleSet, load_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap
from sync.minimise import KEPT_CURSOR, Kept, kept_by_system, kept_fields
from sync.resume import cursors_to_commit
from sync.schema import activities, identities
from tests.helpers import NOW
from tests.helpers import rules as parse
from tests.sync.test_sync_hubspot import RULES, make_sync

PEOPLE, SEED = 80, 5

EXTRA = """
rules:
  - id: company_known
    dimension: fit
    contact: {industry: {exists: true}}
    points: 1
  - id: pricing_page
    dimension: activity
    activity: page_view
    where: {url: {contains: pricing}}
    points: 2
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def stored_contact_fields(store: StateStore) -> set[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(identities.c.attributes)).scalars()
        return {key for text in rows for key in json.loads(text)}


def stored_activity_fields(store: StateStore, kind: str) -> set[str]:
    """The attributes the store holds of activities of `kind`, columns and JSON alike."""
    found: set[str] = set()
    columns = ("url", "campaign", "form", "amount")
    query = sa.select(*(activities.c[c] for c in columns), activities.c.extra).where(
        activities.c.type == kind
    )
    with store.engine.connect() as connection:
        for row in connection.execute(query):
            found |= {c for c, value in zip(columns, row[:4], strict=True) if value is not None}
            found |= set(json.loads(row[4]))
    return found


def with_rule(rules: RuleSet, rule: dict[str, Any]) -> RuleSet:
    body = rules.model_dump(exclude_unset=True)
    body["rules"].append(rule)
    return RuleSet.model_validate(body)


def test_kept_fields_are_what_the_rules_read_ours_and_what_is_read_back() -> None:
    ruleset = parse(EXTRA)
    hubspot = kept_fields([ruleset], FieldMap.for_rules(ruleset, CAPABILITIES))
    mailchimp = kept_fields([ruleset], FieldMap.for_rules(ruleset, MAILCHIMP_CAPABILITIES))

    assert {"industry", "leadscore_score", "lifecyclestage"} <= hubspot.contact
    assert "tags" in mailchimp.contact and "tags" not in hubspot.contact
    assert hubspot.activity == {"url", "campaign", "recorded_by"}
    assert kept_fields([ruleset], None).contact == {"industry"}


def test_of_mailchimp_tags_only_leadscores_stage_tags_are_kept() -> None:
    """The store keeps a member's tags to read our stage back: only the `leadscore: ` ones,
    unless the rules read `tags` themselves (then all of them)."""
    ruleset = parse(EXTRA)
    member = Contact(
        "m1", email="ann@x.io", attributes={"tags": ["vip", "leadscore: Lead", "webinar 2026"]}
    )
    kept = kept_fields([ruleset], FieldMap.for_rules(ruleset, MAILCHIMP_CAPABILITIES))
    assert kept.contacts([member])[0].attributes["tags"] == ["leadscore: Lead"]
    assert replace(kept, revise=True).contacts([member])[0].attributes["tags"] == [
        "leadscore: Lead"
    ]

    reading = with_rule(
        ruleset, {"id": "vip", "contact": {"tags": {"contains": "vip"}}, "points": 5}
    )
    everything = kept_fields([reading], FieldMap.for_rules(reading, MAILCHIMP_CAPABILITIES))
    assert everything.contacts([member])[0].attributes["tags"] == member.attributes["tags"]


def test_a_shadow_run_keeps_the_shadow_rules_fields_without_changing_the_live_digest() -> None:
    live = parse(EXTRA)
    shadow = with_rule(
        live, {"id": "s", "dimension": "fit", "contact": {"budget": {"exists": True}},
               "points": 1},
    )  # fmt: skip
    shadow = with_rule(
        shadow, {"id": "m", "dimension": "activity", "activity": "meeting",
                 "where": {"subject": {"contains": "demo"}}, "points": 1},
    )  # fmt: skip
    alone = kept_by_system(live, {"hubspot": None})["hubspot"]
    both = kept_by_system(live, {"hubspot": None}, shadow)["hubspot"]

    assert "budget" in both.contact and "budget" not in alone.contact
    assert "subject" in both.activity and "subject" not in alone.activity
    assert both.digest == alone.digest


names = st.text(st.sampled_from("abcxyz_"), min_size=1, max_size=4)


@given(
    attributes=st.dictionaries(names, st.integers() | st.text(max_size=3), max_size=8),
    keep=st.frozensets(names, max_size=6),
)
def test_a_contact_keeps_exactly_the_kept_attributes_and_its_identity(
    attributes: dict[str, Any], keep: frozenset[str]
) -> None:
    kept = Kept(keep, frozenset(), "")
    contact = Contact("42", email="ann@acme.io", attributes=attributes)

    [out] = kept.contacts([contact])

    assert out.id == "42" and out.email == "ann@acme.io"
    assert dict(out.attributes) == {k: v for k, v in attributes.items() if k in keep}
    assert kept.activity_attributes(attributes).keys() == set()


def test_a_sync_stores_only_what_the_rules_read_and_scores_the_same(
    box: Sandbox, rules: RuleSet, store: StateStore, tmp_path: Any, monkeypatch: Any
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True, dry_run=True))
    whole = StateStore(f"sqlite:///{tmp_path / 'whole.db'}")
    with monkeypatch.context() as patch:  # the same run keeping every field
        patch.setattr(Kept, "contacts", lambda self, found: list(found))
        patch.setattr(Kept, "activity_attributes", lambda self, attributes: attributes)
        make_sync(box, rules, whole, at=at).run(SyncOptions(full=True, dry_run=True))
    kept = kept_fields([rules], FieldMap.for_rules(rules, CAPABILITIES))

    assert stored_contact_fields(store) <= kept.contact
    assert {"firstname", "email", "company"} <= stored_contact_fields(whole) - kept.contact
    assert "subject" in stored_activity_fields(whole, "meeting")
    assert stored_activity_fields(store, "meeting") == {"outcome"}
    assert stored_activity_fields(store, "purchase") == set()
    minimal, full = (by_email(make_sync(box, rules, s, at=at), at) for s in (store, whole))
    assert minimal == full and len(minimal) > 50
    whole.close()


def by_email(job: Sync, at: datetime) -> dict[str | None, float]:
    """Each person's score by address (person ids follow the order pages were stored)."""
    batch, people = job.score(as_of=at)
    email = {c.id: c.email for c in people.contacts}
    return {email[str(p)]: float(t) for p, t in zip(batch.contact_ids, batch.total, strict=True)}


def test_rules_reading_another_activity_field_read_every_activity_again(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    assert store.cursors("hubspot")[KEPT_CURSOR]
    wider = with_rule(
        rules, {"id": "demo_meeting", "dimension": "activity", "activity": "meeting",
                "where": {"subject": {"exists": True}}, "points": 3},
    )  # fmt: skip

    widened = make_sync(box, wider, store, at=at + timedelta(minutes=15)).run()
    quiet = make_sync(box, wider, store, at=at + timedelta(minutes=30)).run()

    assert any("every activity is read again" in w for w in widened.warnings)
    assert not any("read again" in w for w in quiet.warnings)
    assert stored_activity_fields(store, "meeting") == {"outcome", "subject"}
    narrowed = make_sync(box, rules, store, at=at + timedelta(minutes=45)).run()
    assert any("every activity is read again" in w for w in narrowed.warnings)
    assert stored_activity_fields(store, "meeting") == {"outcome"}


def test_a_cut_run_leaves_the_streams_it_did_not_pull_whole_under_way() -> None:
    streams = ["contacts", "events"]
    pending = {"contacts": "c", "events": "e", KEPT_CURSOR: '{"contacts":"d","events":"d"}'}

    whole = cursors_to_commit(streams, pending, {}, {"contacts", "events"})
    cut = cursors_to_commit(streams, pending, {"events": "r"}, {"contacts"})

    assert whole[KEPT_CURSOR] == '{"contacts":"d","events":"d"}'
    assert cut[KEPT_CURSOR] == '{"contacts":"d","events":"d*"}' and cut["events"] == "r"
    assert cursors_to_commit(streams, pending, {}, set()) == {}


@pytest.fixture(params=["sqlite", "postgresql"])
def both(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A store on SQLite and on PostgreSQL (skipped where no server runs)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/s.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    state = StateStore(url)
    yield state
    state.close()


def test_a_page_is_stored_with_the_kept_fields_and_stored_anew_when_they_change(
    both: StateStore,
) -> None:
    ann = Contact("1", email="ann@acme.io", attributes={"industry": "IT", "firstname": "Ann"})
    seen = Activity("1", ActivityType.PAGE_VIEW, NOW, id="v1", attributes={"url": "/p", "t": 1})
    narrow = Kept(frozenset({"industry"}), frozenset({"t"}), "a")
    wide = Kept(frozenset({"industry"}), frozenset({"t", "url"}), "b")

    both.save_pages("hubspot", [([ann], [seen])], NOW, kept=narrow)
    assert stored_contact_fields(both) == {"industry"}
    assert stored_activity_fields(both, "page_view") == {"t"}
    both.save_pages("hubspot", [((), [seen])], NOW, kept=wide)
    assert stored_activity_fields(both, "page_view") == {"t"}  # seen before: stands
    both.save_pages("hubspot", [((), [seen])], NOW, kept=replace(wide, revise=True))
    assert stored_activity_fields(both, "page_view") == {"t", "url"}
