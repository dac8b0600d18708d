"""Salesforce alone, wired from settings as a user's run is (`Leadscore.open`), over the sandbox:
setup with its own field permissions, full and incremental syncs, and the opt-in Lead Status
mapping, all through simple-salesforce against the emulator on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import BudgetExhausted
from connectors.protocol import Write
from sandbox import FaultPlan, Sandbox
from scoring import ActivityType, RuleSet, load_rules
from sync.app import Leadscore
from sync.demo import sandbox_settings
from sync.errors import ConfigError, SetupNeeded
from sync.summary import SyncOptions
from tests.sandbox.salesforce_helpers import stored_record, update_record

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
SCORE, STAGE = "Leadscore_Score__c", "Leadscore_Stage__c"
ORG_STATUSES = ["Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                "Closed - Not Converted"]  # fmt: skip
QUALIFIED = ("Marketing qualified", "Sales qualified", "Opportunity")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=300, seed=5) as sandbox:
        yield sandbox


def open_app(
    box: Sandbox, rules: RuleSet, path: Path, statuses: Mapping[str, str] | None = None
) -> Leadscore:
    """Leadscore on Salesforce only: no HubSpot or Mailchimp settings at all."""
    maps = {"salesforce": dict(statuses)} if statuses else None
    settings = sandbox_settings(box, f"sqlite:///{path}", maps, systems=["salesforce"])
    return Leadscore.open(settings, rules=rules, clock=box.now, http=box.sessions())


def records(box: Sandbox, sobject: str) -> dict[str, dict[str, Any]]:
    """Every record of `sobject` as stored in the org, by id."""
    org = box.salesforce.org
    with box.salesforce.org_lock:
        table = org.table(sobject)
        ids = [table.id(row) for row in range(len(table))]
    return {i: stored_record(box.salesforce, i) or {} for i in ids}


def converted(box: Sandbox) -> set[str]:
    with box.salesforce.org_lock:
        return {i for i in records(box, "Lead") if box.salesforce.org.is_converted(i)}


def contact_person(box: Sandbox) -> tuple[int, str]:
    """The first world person who is a Contact (and no Lead) in Salesforce, and the Contact."""
    index = box.salesforce.org.index
    return next(
        (p, str(index.person_record(p)))
        for p in range(len(index.rows["Contact"]))
        if (index.person_record(p) or "").startswith("003")
    )


def test_salesforce_alone_sets_up_syncs_in_full_then_incrementally(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    turned = converted(box)
    assert turned  # the world has converted leads

    with open_app(box, rules, tmp_path / "state.db") as app:
        assert [c.system for c in app.connectors] == ["salesforce"]
        report = app.setup()["salesforce"]  # fields, and their permissions: none hidden
        full = app.sync(SyncOptions(full=True))
        leads, contacts = records(box, "Lead"), records(box, "Contact")
        open_leads = {i: r for i, r in leads.items() if i not in turned}
        person, contact = contact_person(box)
        before = contacts[contact][SCORE]
        # a meeting held and ended an hour ago (an Event counts from its end)
        box.salesforce.add_activity(person, ActivityType.MEETING, box.now() - timedelta(hours=2))
        incremental = app.sync()
        held = [r for pairs in app.store.records_by_person().values() for _, r in pairs]

    made = [n for n in report.created if "(field permission)" not in n]
    assert len(made) == 22 and sum("(field permission)" in n for n in report.created) == 22
    stats = full.systems["salesforce"]
    assert full.status == "ok" and stats.failed == 0
    assert stats.written == len(open_leads) + len(contacts)
    assert all(r[SCORE] is not None and r[STAGE] for r in open_leads.values())
    assert all(r[SCORE] is not None and r[STAGE] for r in contacts.values())
    # a converted Lead is scored once, as its Contact (ConvertedContactId), and never written
    assert all(leads[i][SCORE] is None and leads[i][STAGE] is None for i in turned)
    assert turned.isdisjoint(held) and len(held) == len(set(held)) == len(open_leads) + len(
        contacts
    )
    assert {str(leads[i]["ConvertedContactId"]) for i in turned} <= set(held)
    assert incremental.status == "ok"
    assert incremental.systems["salesforce"].written >= 1
    # what the full run wrote is read again (our writes move SystemModstamp): no news
    assert incremental.systems["salesforce"].contacts_changed == 0
    assert incremental.rescored < 10
    assert incremental.systems["salesforce"].written < len(contacts) // 10
    after = stored_record(box.salesforce, contact) or {}
    assert after[SCORE] > before  # the meeting counts, in the record's own field
    assert all((stored_record(box.salesforce, i) or {})[SCORE] is None for i in turned)


def test_a_lead_status_the_org_does_not_list_stops_setup_and_sync_before_any_write(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    statuses = {"Marketing qualified": "Working - Contacted", "Sales qualified": "Qualified"}

    with open_app(box, rules, tmp_path / "state.db", statuses) as app:
        with pytest.raises(ConfigError) as at_setup:
            app.setup()
        with pytest.raises(ConfigError) as at_sync:
            app.sync(SyncOptions(full=True))

    for refused in (at_setup.value, at_sync.value):
        text = " ".join(refused.lines)
        assert refused.exit_code == 2
        assert "LEADSCORE_SALESFORCE__LEAD_STATUSES: 'Qualified' is not a salesforce" in text
        assert f"Status value ({', '.join(ORG_STATUSES)})" in text
        assert "Working - Contacted'" not in text  # the good value is not blamed
    changes = [
        (c.method, c.path)
        for c in box.salesforce.log
        if c.method != "GET" and c.path != "/services/oauth2/token"
    ]
    assert changes == []  # nothing created, granted or written: only the login and reads


def test_lead_status_moves_forward_only_and_contacts_get_none_of_it(
    box: Sandbox, rules: RuleSet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.db"
    with open_app(box, rules, path) as app:  # first without the mapping: the stages
        app.setup()
        app.sync(SyncOptions(full=True))
    turned = converted(box)
    leads = {i: r for i, r in records(box, "Lead").items() if i not in turned}
    interested = sorted(i for i, r in leads.items() if r[STAGE] == "Lead")
    prospects = sorted(i for i, r in leads.items() if r[STAGE] == "Prospect")
    assert len(interested) >= 3 and len(prospects) >= 2
    closed, opened, working = interested[0], interested[1:], prospects[0]
    update_record(box.salesforce, closed, Status="Closed - Not Converted")  # a rep closed it
    for lead in opened:
        update_record(box.salesforce, lead, Status="Open - Not Contacted")
    update_record(box.salesforce, working, Status="Working - Contacted")  # a rep works it
    person, contact = contact_person(box)
    box.salesforce.add_activity(person, ActivityType.MEETING, box.now() - timedelta(hours=2))
    statuses = {"Prospect": "Open - Not Contacted", "Lead": "Working - Contacted"}

    with (
        caplog.at_level(logging.INFO, logger="leadscore.sync"),
        open_app(box, rules, path, statuses) as app,
    ):
        summary = app.sync()
        notes = app.notes()
        written = app.store.written_values("salesforce")

    after = records(box, "Lead")
    assert summary.status == "ok" and summary.systems["salesforce"].failed == 0
    assert {after[i]["Status"] for i in opened} == {"Working - Contacted"}  # moved forward
    assert after[closed]["Status"] == "Closed - Not Converted"  # listed later: kept
    assert after[working]["Status"] == "Working - Contacted"  # never moved back
    assert all(after[i]["Status"] == "Closed - Converted" for i in turned)  # untouched
    assert all("Status" not in r for r in records(box, "Contact").values())
    planned = {w.record_id: w.values for w in summary.plan.get("salesforce", [])}
    assert planned[contact][SCORE] and "Status" not in planned[contact]  # rescored, no Status
    assert {written[i]["Status"] for i in opened} == {"Working - Contacted"}
    assert not any("Status" in v for r, v in written.items() if r.startswith("003"))
    note = "Contacts have no Status field"
    assert sum(note in r.getMessage() for r in caplog.records) == 1  # once in the run
    assert len(notes) == 1 and notes[0].startswith("salesforce: the Lead Status mapping")


# -- what a run leaves behind, and the next run ------------------------------------------------


def test_records_left_locked_are_kept_with_their_reason_and_written_by_the_next_run(
    rules: RuleSet, tmp_path: Path
) -> None:
    """allOrNone false: a record locked through its retries fails alone, the rest of its
    collection lands, and the next run writes exactly the records left behind."""
    plan = FaultPlan(record_failure=0.5, seed=4)
    with Sandbox(people=300, seed=5, faults={"salesforce": plan}) as box:
        with open_app(box, rules, tmp_path / "state.db") as app:
            app.setup()
            first = app.sync(SyncOptions(full=True))
            failures = app.store.failures("salesforce")
            plan.record_failure = 0.0  # the other transactions are done
            second = app.sync()
            left = app.store.failures("salesforce")
        stats, again = first.systems["salesforce"], second.systems["salesforce"]
        unwritten = {f.record_id for f in failures}
        scored = {i for i, r in records(box, "Lead").items() if r[SCORE] is not None}
        scored |= {i for i, r in records(box, "Contact").items() if r[SCORE] is not None}
        locked = sum(
            1 for c in box.salesforce.log if c.operation == "collections.update" and c.status
        )

    assert first.status == "ok" and stats.failed == len(unwritten) > 0
    assert stats.written == stats.planned - stats.failed > 0  # the rest of each batch landed
    assert all(f.reason.startswith("UNABLE_TO_LOCK_ROW") and f.retryable for f in failures)
    assert locked >= 3  # each locked record was tried twice more, in calls of its own
    assert {w.record_id for w in second.plan["salesforce"]} == unwritten
    assert again.written == len(unwritten) and again.failed == 0 and left == []
    assert unwritten <= scored


def test_the_orgs_request_limit_reached_mid_writes_stops_the_run_and_the_next_one_resumes(
    rules: RuleSet, tmp_path: Path
) -> None:
    """Other apps spend the org's day once the first collection is answered: Salesforce answers
    403 REQUEST_LIMIT_EXCEEDED, which is not retried; what landed is kept, the cursors do not
    of the streams pulled to the end are kept, and the next run writes the rest (whose people
    stayed due) and nothing twice."""
    with Sandbox(people=900, seed=5) as box:
        settings = sandbox_settings(box, f"sqlite:///{tmp_path / 's.db'}", None, ["salesforce"])
        section = settings.salesforce.model_copy(update={"budget_per_run": 1.0,
                                                          "budget_in_all": 1.0})  # fmt: skip
        settings = settings.model_copy(update={"salesforce": section})
        org, decorate = box.salesforce.budget, box.salesforce.decorate

        def answered(request: Any, response: Any) -> None:
            decorate(request, response)
            if request.operation == "collections.update" and response.status == 200:
                org.used = org.limit  # the rest of the day, spent elsewhere

        box.salesforce.decorate = answered  # type: ignore[method-assign]
        with Leadscore.open(settings, rules=rules, clock=box.now, http=box.sessions()) as app:
            app.setup()
            with pytest.raises(BudgetExhausted, match="REQUEST_LIMIT_EXCEEDED"):
                app.sync(SyncOptions(full=True, workers=1))  # one collection after another
            landed = app.store.written_values("salesforce")
            cursors = app.store.cursors("salesforce")
            [stopped] = app.store.runs(1)
            refusals = [c for c in box.salesforce.log if c.status == 403]
        box.salesforce.decorate = decorate  # type: ignore[method-assign]
        org.used = 0  # a new day, and the next scheduled run
        with Leadscore.open(settings, rules=rules, clock=box.now, http=box.sessions()) as app:
            resumed = app.sync()
            written = app.store.written_values("salesforce")
            committed = app.store.cursors("salesforce")

    assert len(landed) == 200 and stopped.status == "failed"
    assert len(refusals) == 1  # said once, not retried in a loop
    # streams pulled to the end keep their cursors; the people they brought stay due
    assert {"contacts", "tasks", "events"} <= set(cursors)
    rest = {w.record_id for w in resumed.plan["salesforce"]}
    assert rest.isdisjoint(landed) and len(rest) == len(written) - 200
    assert resumed.status == "ok" and resumed.systems["salesforce"].failed == 0
    assert set(committed) >= {"contacts", "tasks"}


def test_fields_hidden_by_field_level_security_stop_the_sync_until_setup_grants_them(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    settings = sandbox_settings(box, f"sqlite:///{path}", None, ["salesforce"])
    bare = settings.salesforce.model_copy(update={"permission_set": ""})
    no_grants = settings.model_copy(update={"salesforce": bare})
    lead = next(i for i in records(box, "Lead") if i not in converted(box))

    with Leadscore.open(no_grants, rules=rules, clock=box.now, http=box.sessions()) as app:
        made = app.setup()["salesforce"]  # made, and hidden from the API user
        with pytest.raises(SetupNeeded, match=r"salesforce lacks Lead\.Leadscore_Score__c"):
            app.sync(SyncOptions(full=True))
        [connector] = app.connectors
        refused = connector.write([Write(lead, {SCORE: "5"})])
    with open_app(box, rules, path) as app:
        granted = app.setup()["salesforce"]
        summary = app.sync(SyncOptions(full=True))

    assert len(made.created) == 22 and made.existing == []
    assert refused.written == [] and refused.failed[0].reason.startswith("INVALID_FIELD")
    assert refused.failed[0].retryable  # waits for setup
    assert sum("(field permission)" in n for n in granted.created) == 22
    assert len([n for n in granted.existing if n.endswith("__c")]) == 22  # seen now
    assert summary.status == "ok" and summary.systems["salesforce"].failed == 0
    assert (stored_record(box.salesforce, lead) or {})[SCORE] is not None


def test_one_salesforce_contact_is_rescored_on_request_and_written_at_once(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    """What a Salesforce flow's call will do: the Contact fetched with its activity, scored
    and written now, beside the scheduled syncs."""
    with open_app(box, rules, tmp_path / "state.db") as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person, contact = contact_person(box)
        before = (stored_record(box.salesforce, contact) or {})[SCORE]
        box.salesforce.add_activity(person, ActivityType.MEETING, box.now() - timedelta(hours=2))
        done = app.rescore(f"salesforce:{contact}")
        again = app.rescore(f"salesforce:{contact}")

    after = (stored_record(box.salesforce, contact) or {})[SCORE]
    assert done.status == "done" and done.record_id == contact
    assert after > before and after == done.score  # written at once, as the rep reads it
    assert done.written.get("salesforce") == [contact]
    assert again.status == "done" and again.score == done.score
    assert not again.written.get("salesforce")  # it holds these values: nothing to write
