"""A sync over the Salesforce sandbox: the connector with the sync pipeline, end to end.

The run is wired by hand (the connector with a call policy on the sandbox's clock, its
FieldMap by Salesforce's capabilities, and `Sync` over a state store); runs wired from
settings, as a user's are, are in `test_salesforce_app.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.policy import CallPolicy
from connectors.protocol import Write
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.salesforce.connector import INGEST_PACE, SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.system import SF_CAPABILITIES
from sandbox import Latency, SandboxClock
from sandbox.faults import FaultPlan
from sandbox.salesforce import SalesforceSandbox, connect, sandbox_session
from sandbox.world.generate import generate_world
from scoring import RuleSet, load_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap
from sync.schema import activities, identities
from sync.summary import SystemSummary
from sync.vanished import gone_records
from sync.writing import write_batches
from tests.sandbox.salesforce_helpers import grant_fields, quick_jobs, stored_record

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
PEOPLE, SEED = 300, 11


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(generate_world(PEOPLE, seed=SEED)) as sandbox:
        yield sandbox


def make_sync(
    box: SalesforceSandbox,
    rules: RuleSet,
    store: StateStore,
    per_run: float = 0.25,
    query_above: int = 10_000,
    write_above: int = 10_000,
) -> Sync:
    fields = FieldMap.for_rules(rules, SF_CAPABILITIES)
    given = box.credentials("oauth")
    settings = SalesforceSettings(
        username=given["username"],
        password=given["password"],
        client_id=given["consumer_key"],
        client_secret=given["consumer_secret"],
        permission_set="",
        budget_per_run=per_run,
        bulk_query_above=query_above,
        bulk_write_above=write_above,
    )
    connector = SalesforceConnector(
        settings,
        properties=fields.pulled(rules, SALESFORCE_ATTRIBUTES),
        http=sandbox_session(box),
        policy=CallPolicy("salesforce", clock=box.clock, seed=0),
    )
    connector.setup(fields.specs)
    # Shown to the API user as an admin would: the sandbox hides new custom fields until a
    # permission set grants them (setup's own grant, with `permission_set`, is tested with
    # the connector).
    names = [f"{o}.{spec.name}" for o in ("Lead", "Contact") for spec in fields.specs]
    grant_fields(connect(box), box.user_id, *names)
    connector.schema.forget()
    world = box.org  # the org's clock: the world's present and the sandbox's seconds since

    def now() -> datetime:
        with box.org_lock:
            return world.stamp()

    return Sync(rules, store, [connector], {"salesforce": fields}, clock=now)


def people_of(box: SalesforceSandbox) -> list[str]:
    """Every Lead and Contact leadscore writes to: a converted Lead is read-only (its Contact
    is scored in its place)."""
    with box.org_lock:
        records = [
            box.org.table(name).id(row)
            for name in ("Lead", "Contact")
            for row in range(len(box.org.table(name)))
        ]
        return [r for r in records if not box.org.is_converted(r)]


def test_a_full_sync_scores_every_lead_and_contact_and_writes_each_one(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)

    summary = sync.run(SyncOptions(full=True))

    records = people_of(box)
    stats = summary.systems["salesforce"]
    assert summary.status == "ok"
    assert stats.written == len(records) and not stats.failed
    assert stats.calls["collections.update"] == -(-len(records) // 200)
    written = [stored_record(box, record) for record in records]
    scores = {str(r["Leadscore_Score__c"]) for r in written if r is not None}
    stages = {str(r["Leadscore_Stage__c"]) for r in written if r is not None}
    assert "None" not in scores and len(scores) > 3
    assert "None" not in stages and len(stages) > 1


def test_a_second_sync_with_nothing_new_writes_nothing(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))

    again = sync.run()

    assert again.status == "ok" and again.changed == 0
    assert "collections.update" not in again.systems["salesforce"].calls
    assert set(store.cursors("salesforce")) >= {"contacts", "campaign_members", "tasks"}


def test_a_run_stops_at_its_share_of_the_orgs_allocation_and_says_so(
    rules: RuleSet, store: StateStore
) -> None:
    from connectors.errors import BudgetExhausted

    with SalesforceSandbox(generate_world(PEOPLE, seed=SEED), daily_limit=2_000) as box:
        make_sync(box, rules, StateStore("sqlite://"))  # the fields, made beforehand
        sync = make_sync(box, rules, store, per_run=0.004)  # 8 requests of the day
        before = box.budget.used
        with pytest.raises(BudgetExhausted, match=r"share of the daily request budget \(0.4%, 8 "):
            sync.run(SyncOptions(full=True))
        spent = box.budget.used - before

    [run] = store.runs(1)
    budget = run.summary["systems"]["salesforce"]["budget"]
    assert (budget["run_allowance"], budget["spent_this_run"]) == (8, 8)
    assert budget["daily_limit"] == 2_000 and budget["kept_for_other_apps"] == 400
    assert run.status == "failed"
    # eight requests read no more than a stream or two to its end (which, threads decide):
    # only those keep their place, with the fields they read (one stopped while writing
    # commits its cursors: test_salesforce_app)
    streams = set(sync.connectors[0].streams)
    kept = set(store.cursors("salesforce"))
    assert kept <= {*streams, "~fields", "~activity-fields"} and not streams <= kept
    assert spent == 1 + 8  # /limits as the run starts, then the run's eight


def test_a_run_the_orgs_allocation_stopped_while_writing_goes_on_from_what_it_stored(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    from connectors.errors import BudgetExhausted

    sync = make_sync(box, rules, store)
    box.faults = FaultPlan(daily_limit=1.0, operations=frozenset({"collections.update"}))
    with pytest.raises(BudgetExhausted, match="TotalRequests"):
        sync.run(SyncOptions(full=True))
    stopped = box.calls["collections.update"]
    committed = store.cursors("salesforce")
    box.faults = FaultPlan()  # the allocation's window moved on

    again = sync.run()

    records = people_of(box)
    stats = again.systems["salesforce"]
    assert stopped == 1  # never retried: the run stopped at the first refusal
    assert {"contacts", "campaign_members", "tasks", "events"} <= set(committed)
    assert again.status == "ok" and stats.written == len(records) and not stats.failed
    assert stats.contacts < len(records) // 2  # the look-back's few, not everyone again
    written = [stored_record(box, record) for record in records]
    assert all(r is not None and r["Leadscore_Score__c"] is not None for r in written)


def held_by(store: StateStore, record: str) -> tuple[bool, int]:
    """Whether the store holds the record, and how many activities it keys."""
    with store.engine.connect() as connection:
        known = connection.execute(
            sa.select(identities.c.person_id).where(identities.c.record_id == record)
        ).first()
        count = connection.execute(
            sa.select(sa.func.count()).where(activities.c.record_id == record)
        ).scalar_one()
    return known is not None, int(count)


def test_deleted_and_merged_records_are_retired_or_repointed_and_never_written(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    leads = [r for r in people_of(box) if r.startswith("00Q")]
    busy = sorted(leads, key=lambda r: -held_by(store, r)[1])
    merged, master, deleted = busy[0], busy[1], busy[-1]
    _, merged_activities = held_by(store, merged)
    _, master_activities = held_by(store, master)
    assert merged_activities > 0
    box.delete(deleted)
    box.merge(master, merged)

    again = sync.run()

    gone = gone_records(store, "salesforce")
    assert {r: gone.get(r, "kept") for r in (deleted, merged, master)} == {
        deleted: None, merged: master, master: "kept"
    }  # fmt: skip
    assert held_by(store, deleted) == (False, 0)
    assert held_by(store, merged) == (False, 0)
    assert held_by(store, master) == (True, master_activities + merged_activities)
    assert again.status == "ok" and again.systems["salesforce"].failed == 0
    assert {deleted, merged}.isdisjoint(w.record_id for w in again.plan.get("salesforce", []))


def test_a_failed_query_job_leaves_every_cursor_and_the_next_run_reads_it_all(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    from connectors.salesforce.bulk_query import QueryJobFailed

    quick_jobs(box)
    sync = make_sync(box, rules, store, query_above=50)
    box.bulk_queries.failure = "QUERY_TIMEOUT: Your query request was running for too long."

    with pytest.raises(QueryJobFailed, match="QUERY_TIMEOUT"):
        sync.run(SyncOptions(full=True))
    assert store.cursors("salesforce") == {}

    box.bulk_queries.failure = None
    summary = sync.run(SyncOptions(full=True))

    stats = summary.systems["salesforce"]
    assert summary.status == "ok" and stats.written == len(people_of(box))
    assert stats.calls["leads.query.job"] == stats.calls["contacts.query.job"] == 1
    assert set(store.cursors("salesforce")) >= {"contacts", "campaign_members", "tasks"}


def stored_ids(store: StateStore, record: str, prefix: str) -> list[str]:
    """The ids of the activities the store holds of a record, of one kind (by id prefix)."""
    with store.engine.connect() as connection:
        query = sa.select(activities.c.activity_id).where(
            activities.c.record_id == record, activities.c.activity_id.like(f"{prefix}%")
        )
        return sorted(connection.execute(query).scalars())


def busiest(store: StateStore, box: SalesforceSandbox, prefix: str) -> str:
    """The record with the most stored activities of one kind."""
    return max(people_of(box), key=lambda r: (len(stored_ids(store, r, prefix)), r))


def score_of(box: SalesforceSandbox, record: str) -> float:
    written = stored_record(box, record)
    assert written is not None
    return float(written["Leadscore_Score__c"])


def test_deleted_campaign_members_withdraw_their_activity_and_the_score_follows(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    record = busiest(store, box, "cm:")
    held = stored_ids(store, record, "cm:")
    before = score_of(box, record)
    members = sorted({key.split(":")[1] for key in held})
    for member in members:
        box.delete(member)

    again = sync.run()

    assert again.status == "ok"
    assert stored_ids(store, record, "cm:") == []
    after = score_of(box, record)
    assert after < before
    assert float(store.written_values("salesforce")[record]["Leadscore_Score__c"]) == after
    assert record in {w.record_id for w in again.plan["salesforce"]}


def test_a_deleted_won_opportunity_and_a_deleted_contact_role_withdraw_their_purchases(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    record = busiest(store, box, "won:")
    held = stored_ids(store, record, "won:")
    assert held, "the world has won opportunities"
    opportunity = held[0].split(":")[1]
    with box.org_lock:
        roles = box.org.table("OpportunityContactRole")
        rows = [roles.record(row) for row in range(len(roles))]
    others = [
        r for r in rows
        if r["ContactId"] != record and r["OpportunityId"] != opportunity
        and f"won:{r['OpportunityId']}:{r['ContactId']}"
        in stored_ids(store, str(r["ContactId"]), "won:")
    ]  # fmt: skip
    assert others, "the world has other contacts' roles of won opportunities"
    role = others[0]
    box.delete(opportunity)
    box.delete(str(role["Id"]))  # another Contact's role alone

    sync.run()

    assert stored_ids(store, record, "won:") == held[1:]
    gone = f"won:{role['OpportunityId']}:{role['ContactId']}"
    assert gone not in stored_ids(store, str(role["ContactId"]), "won:")


def test_an_opportunity_no_longer_won_withdraws_its_purchases(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    record = busiest(store, box, "won:")
    held = stored_ids(store, record, "won:")
    assert held, "the world has won opportunities"
    opportunity = held[0].split(":")[1]
    with box.org_lock:
        located = box.org.locate(opportunity)
        assert located is not None
        box.org.apply(*located, {"StageName": "Closed Lost"})  # reopened and lost after all

    sync.run()

    assert stored_ids(store, record, "won:") == held[1:]


def test_a_new_process_reads_each_bulk_job_once_by_the_pace_the_store_kept(
    rules: RuleSet, tmp_path: Path
) -> None:
    world = generate_world(PEOPLE, seed=SEED)
    with SalesforceSandbox(world, clock=SandboxClock(50.0)) as box:
        box.bulk.record_seconds = 0.1  # jobs of about 10 s: past the read that learns the pace
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        records, polls = people_of(box), []
        for score in ("40", "41"):  # two processes: a new connector each, one store
            job = make_sync(box, rules, store, write_above=0)
            connector = job.connectors[0]
            writes = [Write(r, {"Leadscore_Score__c": score}) for r in records]
            stats = SystemSummary()
            write_batches(job, connector, writes, SyncOptions(), stats, job.clock())
            assert stats.written == len(records) and not stats.failed
            polls.append((connector.calls()["bulk2.create"], connector.calls()["bulk2.poll"]))
        kept = store.engine.connect().execute(sa.text("SELECT value FROM meta WHERE key = "
                                                      "'learned:salesforce'")).scalar()  # fmt: skip
        store.close()
    assert polls == [(2, 3), (2, 2)]  # the first org's first job is read twice, then once each
    assert json.loads(kept)[INGEST_PACE] > 0


def test_a_write_phase_lets_out_no_more_requests_than_its_workers(
    rules: RuleSet, tmp_path: Path
) -> None:
    """The phase runs a thread more than its workers, making a batch ready while theirs
    are out (`connectors.protocol.GatesCalls`): still at most `workers` requests out.
    (A latency long enough for two requests to be seen out at once on a busy machine.)"""
    with SalesforceSandbox(generate_world(PEOPLE, seed=SEED), latency=Latency(0.12)) as box:
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        job = make_sync(box, rules, store)
        records = people_of(box)
        writes = [Write(r, {"Leadscore_Score__c": str(n)}) for n in (40, 41, 42) for r in records]
        stats = SystemSummary()
        write_batches(job, job.connectors[0], writes, SyncOptions(workers=2), stats, job.clock())
        updates = [(c.began, c.at) for c in box.log if c.operation == "collections.update"]
        store.close()

    assert stats.written == len(writes) and len(updates) == -(-len(writes) // 200) > 2
    out_at_once = [sum(1 for b, a in updates if b <= began < a) for began, _ in updates]
    assert max(out_at_once) == 2  # three at once without the gate: all sent together
