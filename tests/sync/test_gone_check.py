"""Known HubSpot ids read back a slice each run: a contact deleted for good (a privacy
deletion, which no listing shows) is retired and its person erased within the period, as
the app webhook's `contact.privacyDeletion` would, with no write to the contact; each run's
calls stay within the bound and are reported in its summary."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from sandbox import Sandbox
from sandbox.faults import FaultPlan
from sync.app import Leadscore
from sync.demo import sandbox_settings
from sync.dues import meta_value, set_meta
from sync.errors import RecordGone
from sync.forgetting import forget_people
from sync.gone_check import PER_CALL, GoneCheck, meta_key, slice_size
from sync.schema import identities, persons
from sync.store import StateStore
from sync.summary import SyncOptions, SyncSummary
from sync.trigger import enqueue
from sync.vanished import gone_records
from sync.velocity import DAY_SECONDS
from sync.web.core import refusal_for
from tests.sync.privacy_helpers import default_rules, traces
from tests.sync.test_vendor_erasure import hubspot_only_person


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=400, seed=5) as sandbox:
        yield sandbox


def open_app(box: Sandbox, url: str) -> Leadscore:
    return Leadscore.open(
        sandbox_settings(box, url),
        rules=default_rules(),
        clock=box.now,
        pace=box.clock,
        http=box.sessions(),
    )


def known_ids(store: StateStore) -> list[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(identities.c.record_id).where(identities.c.system == "hubspot")
        )
        return sorted(str(r) for (r,) in rows)


def batch_reads(summary: SyncSummary) -> int:
    return summary.systems["hubspot"].calls.get("contacts.batch_read", 0)


def test_a_privacy_deletion_is_erased_by_the_check_within_the_period(
    box: Sandbox, url: str
) -> None:
    check = GoneCheck(days=7, max_calls=2)  # 100 ids a run: the period's share is less
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        known = known_ids(app.store)
        assert len(known) > 2 * PER_CALL, "the sandbox world has too few HubSpot contacts"
        pid, email, record = hubspot_only_person(app.store)
        others = set(app.store.records_by_person()) - {pid}
        box.hubspot.privacy_delete(record)

        runs = 0
        while app.store.person_of(record) is not None:
            assert runs < math.ceil(len(known) / PER_CALL), "a known id was never checked"
            summary = app.sync(SyncOptions(gone_check=check))
            runs += 1
            checked = summary.checked["hubspot"]
            assert checked["checked"] == PER_CALL and checked["calls"] <= check.max_calls
            assert batch_reads(summary) == checked["calls"]  # no write found it: none was made
            assert summary.systems["hubspot"].written == 0

        assert summary.checked["hubspot"]["gone"] == 1
        assert gone_records(app.store, "hubspot").get(record, "kept") is None
        assert app.store.person_of(email) is None
        assert traces(app.store, email, frozenset()) == []  # the address: nowhere
        left = traces(app.store, email, frozenset({("hubspot", record)}))
        assert {t.split(" (")[0] for t in left} == {"gone.record_id"}, left
        assert others <= set(app.store.records_by_person())
        assert json.loads(summary_row(app.store))["gone_check"]["hubspot"]["gone"] == 1


def summary_row(store: StateStore) -> str:
    """The last run's summary as the runs table keeps it."""
    from sync.schema import runs

    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(runs.c.summary).order_by(runs.c.id.desc()).limit(1)
        ).scalar_one()
    return found if isinstance(found, str) else json.dumps(found)


def test_a_bound_too_low_for_the_period_warns_and_carries_the_rest_over(
    box: Sandbox, store: StateStore
) -> None:
    check = GoneCheck(days=7, max_calls=4)  # 200 ids a run
    app = open_app(box, str(store.engine.url))
    app.setup()
    app.sync(SyncOptions(full=True, gone_check=GoneCheck(days=0)))
    with app.store.engine.connect() as connection:
        assert meta_value(connection, meta_key("hubspot")) is None  # 0: no check at all
    known = len(known_ids(app.store))
    with app.store.engine.begin() as connection:  # the last check a whole period ago
        moment = box.now().timestamp() - 7 * DAY_SECONDS
        set_meta(connection, meta_key("hubspot"), json.dumps({"after": None, "at": moment}))

    first = app.sync(SyncOptions(gone_check=check))
    assert first.checked["hubspot"]["checked"] == 2 * PER_CALL
    assert first.checked["hubspot"]["calls"] <= check.max_calls
    assert any("LEADSCORE_GONE_CHECK_MAX_CALLS" in w for w in first.warnings)
    with app.store.engine.connect() as connection:
        state = json.loads(meta_value(connection, meta_key("hubspot")) or "{}")
    assert state["owed"] == known - 2 * PER_CALL

    second = app.sync(SyncOptions(gone_check=check))  # owed, and at least a call's worth
    assert second.checked["hubspot"]["checked"] == min(2 * PER_CALL, state["owed"] + PER_CALL)
    app.close()


@given(
    st.integers(min_value=0, max_value=2_000_000),
    st.floats(min_value=0.5, max_value=90),
    st.lists(st.floats(min_value=0, max_value=3 * DAY_SECONDS), min_size=1, max_size=40),
)
def test_the_slices_of_a_period_cover_every_known_id(
    known: int, days: float, gaps: list[float]
) -> None:
    check = GoneCheck(days=days)
    sizes = [slice_size(known, gap, check) for gap in gaps]
    assert all(min(known, PER_CALL) <= size <= known for size in sizes)
    if sum(gaps) >= days * DAY_SECONDS:  # runs spanning the period read back at least everyone
        assert sum(sizes) >= known
    assert slice_size(known, None, check) == min(known, max(PER_CALL, math.ceil(known / days)))


def test_a_salesforce_record_purged_before_a_pull_saw_it_is_retired_by_the_check(
    url: str,
) -> None:
    with Sandbox(people=60, seed=5) as box:
        settings = sandbox_settings(box, url, systems=("salesforce",))
        app = Leadscore.open(
            settings, rules=default_rules(), clock=box.now, pace=box.clock, http=box.sessions()
        )
        with app:
            app.setup()
            app.sync(SyncOptions(full=True, gone_check=GoneCheck(days=0)))
            with app.store.engine.connect() as connection:
                rows = connection.execute(
                    sa.select(identities.c.record_id).where(identities.c.system == "salesforce")
                )
                known = sorted(str(r) for (r,) in rows)
            record = known[0]
            box.salesforce.purge(record)  # deleted and emptied from the Recycle Bin at once

            missed = app.sync(SyncOptions(gone_check=GoneCheck(days=0)))
            assert missed.status == "ok" and app.store.person_of(record) is not None

            found = app.sync(SyncOptions(gone_check=GoneCheck(days=7, max_calls=4)))
            checked = found.checked["salesforce"]
            assert checked == {"checked": len(known), "gone": 1, "calls": checked["calls"]}
            assert 1 <= checked["calls"] <= 4
            assert gone_records(app.store, "salesforce").get(record, "kept") is None
            assert app.store.person_of(record) is None


def test_a_check_that_fails_warns_and_leaves_the_run_and_its_slice_alone(
    box: Sandbox, store: StateStore
) -> None:
    with open_app(box, str(store.engine.url)) as app:
        app.setup()
        app.sync(SyncOptions(full=True, gone_check=GoneCheck(days=0)))
        box.hubspot.faults = FaultPlan(
            server_error=1.0, operations=frozenset({"contacts.batch_read"})
        )

        failed = app.sync(SyncOptions(gone_check=GoneCheck(days=7, max_calls=2)))

        assert failed.status == "ok" and "hubspot" not in failed.checked
        assert any("check of known records for deletions failed" in w for w in failed.warnings)
        with app.store.engine.connect() as connection:
            assert meta_value(connection, meta_key("hubspot")) is None  # read again next run


def test_forgetting_the_person_the_check_stopped_at_leaves_no_id_in_meta(
    box: Sandbox, tmp_path: Path
) -> None:
    with open_app(box, f"sqlite:///{tmp_path / 's.db'}") as app:
        app.setup()
        app.sync(SyncOptions(full=True, gone_check=GoneCheck(days=7, max_calls=2)))
        with app.store.engine.connect() as c:
            after = json.loads(meta_value(c, meta_key("hubspot")) or "{}")["after"]
        pid = app.store.person_of(after)
        assert pid is not None
        records = frozenset(app.store.records_by_person()[pid])
        with app.store.engine.connect() as c:
            email = c.execute(sa.select(persons.c.email).where(persons.c.id == pid)).scalar_one()

        assert [e.address for e in forget_people(app.store, [email]).erased] == [email]

        assert traces(app.store, email, records) == []
        with app.store.engine.connect() as c:
            moved = json.loads(meta_value(c, meta_key("hubspot")) or "{}")["after"]
        assert moved == max(r for r in known_ids(app.store) if r < after)


def test_a_trigger_of_a_deleted_contact_retires_it_and_answers_gone(
    box: Sandbox, tmp_path: Path
) -> None:
    """A rescore asked for a contact HubSpot deleted retires it through the pull's path:
    a privacy deletion for good (the person goes), an archived one as a deletion; the
    webhook's answer is 410. A queued one is retired by the sync that fetches it."""
    with open_app(box, f"sqlite:///{tmp_path / 's.db'}") as app:
        app.setup()
        app.sync(SyncOptions(full=True, gone_check=GoneCheck(days=0)))
        pid, email, record = hubspot_only_person(app.store)
        box.hubspot.privacy_delete(record)

        with pytest.raises(RecordGone, match="hubspot deleted for good that contact") as gone:
            app.rescore(f"hubspot:{record}")
        assert gone.value.for_good
        assert refusal_for(gone.value, "hubspot").status == 410
        assert app.store.person_of(email) is None and app.store.person_of(record) is None

        archived = next(r for r in known_ids(app.store) if r != record)
        box.hubspot.archive_contact(archived)
        with pytest.raises(RecordGone, match="archived") as gone:
            app.rescore(f"hubspot:{archived}")
        assert not gone.value.for_good
        assert archived in gone_records(app.store, "hubspot")
        assert app.store.person_of(archived) is None

        queued = next(r for r in known_ids(app.store) if r not in (record, archived))
        enqueue(app.store, "hubspot", queued)
        box.hubspot.privacy_delete(queued)
        summary = app.sync(SyncOptions(gone_check=GoneCheck(days=0)))
        assert "a trigger queued a hubspot record that is gone" in summary.warnings
        assert app.store.person_of(queued) is None
        assert pid not in app.store.records_by_person()
