"""What a rep sees in HubSpot after a demo-sized sync, read back through the real SDK."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox
from scoring import RuleSet, load_rules, parse_rules
from sync.app import Leadscore
from sync.demo import demo_stages, sandbox_settings
from sync.summary import SyncOptions

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
POINTS = re.compile(r"(?:^| · )([+-]\d+) ")
HEAD = re.compile(r"^DISQUALIFIED: [^·]+ \(score (-?\d+); (-?\d+) points before\)")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture(scope="module")
def synced(rules: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Leadscore]:
    path = tmp_path_factory.mktemp("rep") / "state.db"
    with Sandbox(people=5000, seed=7) as box:
        settings = sandbox_settings(box, f"sqlite:///{path}", demo_stages(rules))
        with Leadscore.open(settings, rules=rules, clock=box.now) as app:
            app.setup()
            app.sync(SyncOptions(full=True))
            app.box = box  # type: ignore[attr-defined]
            yield app


def read_back(box: Sandbox) -> list[dict[str, str]]:
    from hubspot import HubSpot

    api = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url)
    names = ["leadscore_score", "leadscore_reasons", "leadscore_disqualified"]
    found, after = [], None
    while True:
        page = api.crm.contacts.basic_api.get_page(limit=100, after=after, properties=names)
        found += [dict(c.properties) for c in page.results]
        if not page.paging or not page.paging.next:
            return found
        after = page.paging.next.after


def test_every_written_reasons_text_adds_up_and_no_disqualified_outranks_a_qualified(
    synced: Leadscore,
) -> None:
    contacts = read_back(synced.box)  # type: ignore[attr-defined]

    assert len(contacts) == synced.box.hubspot.contacts.size  # type: ignore[attr-defined]
    for contact in contacts:
        score, text = int(contact["leadscore_score"]), contact["leadscore_reasons"]
        head = HEAD.match(text)
        if contact["leadscore_disqualified"] == "true":
            assert head is not None and int(head.group(1)) == score
            total, body = int(head.group(2)), text[head.end() :]
        else:
            assert head is None
            total, body = score, text
        assert sum(int(p) for p in POINTS.findall(body)) == total, text
    qualified = [
        int(c["leadscore_score"]) for c in contacts if c["leadscore_disqualified"] == "false"
    ]
    disqualified = [
        int(c["leadscore_score"]) for c in contacts if c["leadscore_disqualified"] == "true"
    ]
    assert disqualified and max(disqualified) < min(qualified)


def test_the_demo_spreads_grades_meets_bant_and_ranks_leads_not_customers(
    synced: Leadscore,
) -> None:
    batch, _ = synced.job.score()
    n = len(batch)
    shares = {g: c / n for g, c in Counter(batch.grade(i) for i in range(n)).items()}
    ranked = [int(r) for r in batch.ranking()[:15]]
    sales_rules = {"meeting_held", "quote_sent"}

    assert set(shares) == {"A", "B", "C", "D"}
    assert all(0.05 <= share <= 0.50 for share in shares.values()), shares
    assert (batch.bant_met.sum(axis=1) >= 3).any()
    assert all(batch.leads[row] and batch.stage(row) != "Customer" for row in ranked)
    assert (~batch.leads).sum() > 0
    fired = {r.rule_id for row in range(n) for r in batch.reasons(row) if r.points > 0}
    assert sales_rules <= fired


def test_a_dry_run_before_setup_writes_nothing_and_leaves_the_store_as_it_was(
    rules: RuleSet, tmp_path: Path
) -> None:
    path = tmp_path / "state.db"
    with Sandbox(people=300, seed=3) as box:
        settings = sandbox_settings(box, f"sqlite:///{path}")
        with Leadscore.open(settings, rules=rules, clock=box.now) as app:
            before = path.read_bytes()
            summary = app.sync(SyncOptions(dry_run=True))
            after = path.read_bytes()
        # POSTs that only read (searches, batch reads) aside, nothing reached HubSpot
        reads = ("/search", "/batch/read")
        calls = [c for c in box.hubspot.log if c.method != "GET" and not c.path.endswith(reads)]

    assert after == before
    assert calls == []
    assert "leadscore_score" in summary.setup["hubspot"].created
    planned = summary.plan["hubspot"]
    assert len(planned) == box.hubspot.contacts.size
    assert set(summary.emails["hubspot"]) == {w.record_id for w in planned}


def test_setup_warns_about_attributes_the_portal_lacks(rules: RuleSet, tmp_path: Path) -> None:
    text = RULES.read_text().replace("budget: {gte: 10000}", "budget_2027: {gte: 1}")
    extra = parse_rules(text, "rules.yaml")
    with Sandbox(people=50, seed=3) as box:
        settings = sandbox_settings(box, f"sqlite:///{tmp_path / 's.db'}")
        with Leadscore.open(settings, rules=extra, clock=box.now) as app:
            warnings = app.warnings(app.setup(dry_run=True))
            plain = Leadscore.open(settings, rules=rules, clock=box.now)
            quiet = plain.warnings(plain.setup(dry_run=True))
            plain.close()

    assert len(warnings) == 1 and "no contact field gives budget_2027" in warnings[0]
    assert quiet == []


def test_sync_warns_about_text_the_rules_compare_as_numbers(tmp_path: Path) -> None:
    text = RULES.read_text().replace("employees: {gte: 1000}", "job_title: {gte: 1000}")
    odd = parse_rules(text, "rules.yaml")
    with Sandbox(people=50, seed=3) as box:
        settings = sandbox_settings(box, f"sqlite:///{tmp_path / 's.db'}")
        with Leadscore.open(settings, rules=odd, clock=box.now) as app:
            dry = app.sync(SyncOptions(dry_run=True))
            app.setup()
            real = app.sync(SyncOptions(full=True))

    for summary in (dry, real):
        found = [w for w in summary.warnings if w.startswith("field 'job_title'")]
        assert len(found) == 1 and "did not parse as one" in found[0]
        assert "e.g." not in found[0]  # the run's summary, kept and logged: no contact's value
        assert not any("employees" in w for w in summary.warnings)
    assert real.as_dict()["warnings"] == real.warnings
