"""Interest scores in a sync: the top interest and its points land in HubSpot's properties."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.hubspot import CAPABILITIES
from connectors.protocol import FieldSpec
from sandbox import Sandbox
from scoring import RuleSet, load_rules, parse_rules, whole_points
from sync import StateStore, SyncOptions
from sync.fields import FieldMap
from tests.sync.test_sync_hubspot import RULES, make_sync

PEOPLE, SEED = 80, 5


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def spec(rules: RuleSet, key: str) -> FieldSpec:
    return next(s for s in FieldMap.for_rules(rules, CAPABILITIES).specs if s.key == key)


def test_the_top_interest_and_its_points_are_written_to_hubspot(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    batch, people = sync.score()
    assert batch.interests is not None
    table = box.hubspot.contacts
    top, points = spec(rules, "top_interest"), spec(rules, "interest_score")
    assert top.kind == "enumeration"
    assert top.options == tuple(t.id for t in rules.interests.topics)  # type: ignore[union-attr]
    row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
    seen = set()
    for person, records in people.records.items():
        row = row_of[person]
        topic = batch.interests.topic(row)
        expected = "" if topic is None else topic.id
        for system, record in records:
            if system != "hubspot":
                continue
            at = int(record) - 1
            assert (table.value(top.name, at) or "") == expected
            held = table.value(points.name, at)
            assert held == str(whole_points(float(batch.interests.top_score[row])))
            seen.add(expected)
    assert len(seen - {""}) >= 2  # the world's visitors read about several products


def test_no_interest_field_is_declared_when_the_rules_write_none(rules: RuleSet) -> None:
    quiet = rules.model_copy(
        update={"interests": rules.interests.model_copy(update={"write": "none"})}  # type: ignore[union-attr]
    )
    keys = {s.key for s in FieldMap.for_rules(quiet, CAPABILITIES).specs}
    assert not keys & {"top_interest", "interest_score"}


def test_each_topic_has_its_field_when_the_rules_write_each() -> None:
    each = parse_rules(
        "rules: [{id: r, activity: page_view, points: 1}]\n"
        "interests: {write: each, topics: [{id: api, label: API, urls: ['*/api*']}]}\n"
    )
    found = {s.key: s for s in FieldMap.for_rules(each, CAPABILITIES).specs}
    assert found["interest_api"].name == "leadscore_interest_api"
    assert found["interest_api"].label == "Interest: API"
    assert found["interest_api"].kind == "number"
