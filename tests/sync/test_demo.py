"""`leadscore demo`: the whole product on the sandbox, as a first-time user runs it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from scoring import RuleSet, demo_rules_text, parse_rules
from sync.cli import app
from sync.demo import DemoResult, run_demo
from tests.helpers import unwrapped


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(demo_rules_text(), "demo.yaml")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo") / "report.html"


@pytest.fixture(scope="module")
def demo(rules: RuleSet, report_file: Path) -> tuple[DemoResult, str]:
    screen = io.StringIO()
    console = Console(file=screen, width=80)
    result = run_demo(console, rules, people=300, seed=2, touched=6, top=5, report_to=report_file)
    return result, screen.getvalue()


def test_the_demo_ends_with_the_report_of_its_store(
    demo: tuple[DemoResult, str], report_file: Path
) -> None:
    _, text = demo
    said = "".join(text.split())  # wherever the 80-column wrapping broke its lines
    path = re.escape("".join(str(report_file).split()))
    assert re.search(rf"reportofthestore\(\d+\.\ds,\d+\.\dsCPU\):{path};openitinabrowser$", said)
    page = report_file.read_text("utf-8")
    assert 'id="chart-movement"' in page and "the state store (" in page


def test_the_demo_syncs_in_full_then_writes_only_the_contacts_that_changed(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo

    full, incremental = result.full.systems["hubspot"], result.incremental.systems["hubspot"]
    assert full.written == full.contacts > 0 and full.failed == 0
    assert 0 < incremental.written <= len(result.touched)  # the new activity, nobody else
    assert incremental.calls.get("contacts.batch_update") == 1
    assert "Top 5 of" in text and "stages: Prospect" in text
    assert "lifecyclestage moved forward for" in unwrapped(text)
    assert "and back for 0" in unwrapped(text)


def test_the_demo_writes_one_score_per_person_to_hubspot_salesforce_and_mailchimp(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo
    shared = result.shared
    assert shared is not None

    for name in ("salesforce", "mailchimp"):
        stats = result.full.systems[name]
        assert stats.written == stats.contacts > 0 and stats.failed == 0
    assert len(shared.both) > 20  # the world's people overlap between the systems
    held_by = {frozenset(shared.scores[person]) for person in shared.both}
    assert frozenset({"hubspot", "salesforce", "mailchimp"}) in held_by
    for person in shared.both:  # as read from the emulators, after the incremental sync
        scores = shared.scores[person]
        assert len(scores) >= 2 and set(scores) <= {"hubspot", "salesforce", "mailchimp"}
        held = {value for values in scores.values() for value in values}
        assert len(held) == 1 and None not in held, (person, scores)
    assert shared.agreeing == shared.both
    both = len(shared.both)
    names = "HubSpot, Salesforce and Mailchimp"
    line = f"{both:,} people in more than one: same score in {names} for all {both:,}"
    assert line in unwrapped(text)
    assert f"records: HubSpot {shared.records['hubspot']:,}, Salesforce" in unwrapped(text)
    assert "HubSpot · " in text  # the top leads say which systems hold them
    hubspot, salesforce, mailchimp = (
        result.incremental.systems[s].written for s in ("hubspot", "salesforce", "mailchimp")
    )
    wrote = (
        f"incremental sync wrote {hubspot} HubSpot, {salesforce} Salesforce and {mailchimp} "
        "Mailchimp records"
    )
    assert wrote in unwrapped(text)


def test_the_top_leads_say_which_system_each_signal_came_from(
    demo: tuple[DemoResult, str],
) -> None:
    """A behaviour reason of a person several systems hold names the systems whose
    activities it counted (a profile reason names none)."""
    _, text = demo
    ranking = unwrapped(text.partition("Top 5 of")[2].partition("stages:")[0])
    assert re.search(r"\+\d+ (HubSpot|Salesforce|Mailchimp)(/\w+)* [a-z]", ranking), ranking


def test_the_first_screen_fits_80_columns_and_names_both_sandboxes(
    demo: tuple[DemoResult, str],
) -> None:
    _, text = demo
    lines = text.splitlines()

    assert max(len(line) for line in lines) <= 80
    first = unwrapped("\n".join(lines[:40]))
    assert "HubSpot sandbox at http://127.0.0.1:" in first
    assert "Salesforce sandbox at http://127.0.0.1:" in first
    assert (
        "setup Salesforce: created 26 fields (11 on Lead, 11 on Contact, 4 on Account), granted 26"
        in first
    )
    assert "Mailchimp sandbox at http://127.0.0.1:" in first
    said = "people in more than one: same score in HubSpot, Salesforce and Mailchimp"
    assert said in first


def test_the_demo_shows_rfm_accounts_interests_and_the_hand_over_queue(
    demo: tuple[DemoResult, str], rules: RuleSet
) -> None:
    """The demo's rules are the default ones with RFM, accounts and a capacity; its first
    sync's summary says how the hand-over went, and its ranking shows each lead's
    account and top interest under the address, with the RFM segments of the buyers."""
    result, text = demo
    said = unwrapped(text)
    assert rules.rfm is not None and rules.accounts is not None and rules.capacity is not None
    handover = result.full.handover
    assert handover is not None and 0 < handover.handed <= rules.capacity.per_week
    assert handover.per_week == rules.capacity.per_week
    assert re.search(
        rf"hand-over \d{{4}}-W\d\d: {handover.handed} of {handover.per_week} handed over, "
        rf"{handover.waiting} waiting",
        said,
    ), said
    ranking = text.partition("Top 5 of")[2].partition("stages:")[0]
    engaged = re.findall(r"account: (\d+)/(\d+) engaged", ranking)
    assert engaged and all(0 <= int(e) <= int(p) for e, p in engaged), ranking
    segments = ", ".join(f"{s.name} \\d+" for s in rules.rfm.segments)
    assert re.search(rf"RFM segments of the [\d,]+ who bought: {segments}", said), said
    assert re.search(r"best RFM: \S+@\S+ [1-5]{3} \w", said), said
    assert "top interests: lead scoring" in said


def test_the_default_rules_stay_without_the_demos_blocks() -> None:
    """Backtests and calibration refuse roll-ups and quintiles: the default rule file
    (`leadscore init`'s) leaves them to the demo's additions."""
    from scoring import default_rules_text

    default = parse_rules(default_rules_text(), "default.yaml")
    assert default.rfm is None and default.accounts is None and default.capacity is None
    assert demo_rules_text().startswith(default_rules_text())


def test_a_report_path_that_cannot_be_written_is_refused_before_the_demo_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    nowhere = tmp_path / "missing" / "report.html"
    result = CliRunner().invoke(
        app, ["demo", "--people", "60", "--seed", "3", "--report", str(nowhere)]
    )
    assert result.exit_code == 2, result.output
    said = unwrapped(result.stderr)
    assert f"--report {nowhere}: the folder" in said and said.endswith("does not exist")
    assert "sandbox" not in result.stdout  # refused before the sandboxes start
    assert "Traceback" not in result.output and not nowhere.exists()
    folder = CliRunner().invoke(app, ["demo", "--report", str(tmp_path)])
    assert folder.exit_code == 2 and "a folder; give the .html file" in unwrapped(folder.stderr)


def test_setup_lines_count_fields_per_object_or_name_the_first_few() -> None:
    from connectors.protocol import SetupReport
    from sync.demo import setup_line

    hubspot = SetupReport(created=["group leadscore", *(f"leadscore_f{i}" for i in range(11))])
    assert setup_line("hubspot", hubspot) == (
        "setup HubSpot: created 12 (group leadscore, leadscore_f0, leadscore_f1 and 9 more), "
        "updated 0, 0 already there"
    )
    fields = [f"{o}.F{i}__c" for o in ("Lead", "Contact") for i in range(6)]
    salesforce = SetupReport(created=[*fields, "Lead.F0__c (field permission)"])
    assert setup_line("salesforce", salesforce).startswith(
        "setup Salesforce: created 12 fields (6 on Lead, 6 on Contact), granted 1 field"
    )


def test_the_demo_writes_account_fit_score_and_stage_onto_companies_and_accounts(
    demo: tuple[DemoResult, str], rules: RuleSet
) -> None:
    result, text = demo
    assert rules.accounts is not None and rules.accounts.fit and rules.accounts.stages
    for system in ("hubspot", "salesforce"):
        written = result.full.accounts[system]
        assert written.written > 0 and written.failed == 0, (system, written)
    names = " · ".join(rf"{s.name} [\d,]+" for s in rules.accounts.stages)
    assert re.search(rf"account stages \(company records\): {names}\n", text), text
