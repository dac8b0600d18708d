"""Merged and deleted HubSpot contacts: reported by the connector, never written again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.protocol import Gone, Write
from sandbox import Sandbox
from scoring import load_rules
from sync import StateStore, SyncOptions
from sync.schema import identities, persons, written
from sync.vanished import gone_records
from tests.sync.test_sync_hubspot import RULES, connector, make_sync


def unlanded(store: StateStore, record: str) -> None:
    """As if the last write to the record had not landed: nothing recorded as written,
    and its person left due, as a run whose write did not land leaves it."""
    with store.engine.begin() as connection:
        connection.execute(sa.delete(written).where(written.c.record_id == record))
        owner = sa.select(identities.c.person_id).where(identities.c.record_id == record)
        connection.execute(sa.update(persons).where(persons.c.id.in_(owner)).values(due=None))


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def test_a_write_to_a_merged_or_deleted_contact_reports_it_gone(box: Sandbox) -> None:
    hubspot = connector(box, load_rules(RULES))
    box.hubspot.merge_contacts("1", "2")
    box.hubspot.archive_contact("3")
    outcome = hubspot.write([Write(i, {"firstname": "x"}) for i in ("1", "2", "3", "4")])

    assert sorted(outcome.written) == ["1", "4"]
    assert outcome.failed == []
    assert sorted(outcome.gone, key=lambda g: g.record_id) == [Gone("2", "1"), Gone("3", None)]


def test_the_sync_stops_writing_to_a_gone_contact(box: Sandbox, tmp_path: Path) -> None:
    rules = load_rules(RULES)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    make_sync(box, rules, store).run()
    box.hubspot.merge_contacts("4", "5")
    unlanded(store, "5")
    make_sync(box, rules, store).run()
    assert gone_records(store, "hubspot") == {"5": "4"}

    again = make_sync(box, rules, store).run(SyncOptions(full=True))
    assert "5" not in {f.record_id for f in store.failures("hubspot")}
    assert again.systems["hubspot"].failed == 0


def test_a_merged_contacts_activity_is_scored_with_the_contact_it_was_merged_into(
    box: Sandbox, tmp_path: Path
) -> None:
    rules = load_rules(RULES)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    make_sync(box, rules, store).run()
    people = store.load_people()
    held = Counter(str(int(p)) for p in people.columns.person)
    records = {r: pid for pid, rs in people.records.items() for _, r in rs}
    # the contact with the most activity, merged into another one
    loser = max(records, key=lambda r: held[records[r]])
    winner = next(r for r in records if records[r] != records[loser])
    had = set(joined(store, loser)) | set(joined(store, winner))
    assert len(had) > len(joined(store, winner))
    box.hubspot.merge_contacts(winner, loser)
    unlanded(store, loser)

    make_sync(box, rules, store).run()  # the write to the loser finds it merged

    assert gone_records(store, "hubspot") == {loser: winner}
    assert store.person_of(loser) is None
    assert set(joined(store, winner)) == had
    assert store.failures("hubspot") == []


def joined(store: StateStore, record: str) -> list[str]:
    """The activities scored with the person of a record."""
    people = store.load_people(activity_ids=True)
    person = store.person_of(record)
    return [
        i for p, i in zip(people.columns.person, people.columns.ids, strict=True) if p == person
    ]


def test_a_merge_chain_between_checks_is_merged_never_gone_for_good(box: Sandbox) -> None:
    """X merged into Z, then Z into Y: the check reads X back under Y. Whether Y lists X
    in `hs_merged_object_ids` (the sandbox carries it; HubSpot's docs do not say), X is
    merged into Y, not erased as a privacy deletion."""
    hubspot = connector(box, load_rules(RULES))
    box.hubspot.merge_contacts("6", "5")  # 5 into 6
    box.hubspot.merge_contacts("7", "6")  # 6 into 7
    with box.hubspot.lock:
        assert (
            box.hubspot.contacts.value("hs_merged_object_ids", box.hubspot.contact_row("7"))
            == "5;6"
        )
    box.hubspot.privacy_delete("8")
    expected = [Gone("5", "7"), Gone("6", "7"), Gone("8", None, for_good=True)]
    assert sorted(hubspot.gone_among(["5", "6", "7", "8"]), key=lambda g: g.record_id) == expected

    with box.hubspot.lock:  # a portal that kept only the last merge's id
        box.hubspot.write_contact(box.hubspot.contact_row("7"), {"hs_merged_object_ids": "6"})
    assert sorted(hubspot.gone_among(["5", "6", "7", "8"]), key=lambda g: g.record_id) == expected


def test_the_archived_listing_is_read_in_bounded_pulls_and_then_only_what_is_new(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pull reads at most its bound of the archived listing, the next goes on where it
    stopped, each contact reported once; once the pass is whole, the next one reports only
    what was archived since that pass began."""
    from connectors.hubspot import archived

    monkeypatch.setattr(archived, "ARCHIVED_PAGE", 15)
    api = connector(box, load_rules(RULES)).api
    for record in range(1, 41):
        box.hubspot.archive_contact(str(record))
    began = int(box.hubspot._now_ms())

    def pull(state: dict[str, object]) -> tuple[list[str], dict[str, object]]:
        walk = archived.pull_archived(api, state, 0, began, max_calls=1)
        reported: list[str] = []
        try:
            while True:
                reported += [g.record_id for g in next(walk).gone]
        except StopIteration as done:
            return reported, done.value

    state: dict[str, object] = {}
    seen: list[str] = []
    for _ in range(3):
        reported, state = pull(state)
        assert len(reported) <= 15 and (len(reported) == 15) == ("archived_after" in state)
        seen += reported
    assert sorted(seen, key=int) == [str(r) for r in range(1, 41)]
    assert state == {"archived_since": began}

    box.hubspot.archive_contact("45")
    reported, state = pull(state)
    assert reported == [] and state["archived_since"] == began  # a pass cut: carried on
    assert state["archived_began"] == began
    later: list[str] = []
    while "archived_after" in state:
        reported, state = pull(state)
        later += reported
    assert later == ["45"] and state == {"archived_since": began}
