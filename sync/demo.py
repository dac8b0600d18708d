"""The demo: the whole product on the local sandbox, with no account anywhere.

Starts the HubSpot, Salesforce and Mailchimp emulators over one seeded synthetic
world (people overlap between them, under addresses spelled differently), creates
leadscore's fields in each, runs a full sync through the real SDKs, shows how many
people the systems share and that each holds the same score of each of them, the top leads with the
systems that hold them and the stage funnel, then lets some contacts do new
things and runs an incremental sync that writes only the records whose values
changed.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from connectors.protocol import SetupReport
from connectors.registry import system
from sandbox import VENDORS, Sandbox
from scoring import ActivityType, RuleSet, demo_rules_text, parse_rules
from sync.app import Leadscore
from sync.collector import fewer_collections
from sync.demo_shared import (
    Shared,
    account_engagement,
    account_stage_line,
    in_words,
    shared_scores,
    signal_sources,
)
from sync.errors import SyncError
from sync.pipeline import Progress
from sync.ranking import print_ranking
from sync.report import print_summary
from sync.settings import Settings, isolated_settings
from sync.summary import SyncOptions, SyncSummary

NEW_ACTIVITY = (
    (ActivityType.PAGE_VIEW, "https://leadscore.example/pricing"),
    (ActivityType.CONTENT_DOWNLOAD, "https://leadscore.example/guides/scoring"),
    (ActivityType.DEMO_REQUEST, "https://leadscore.example/demo"),
    (ActivityType.QUESTION, "https://leadscore.example/contact"),
)


@dataclass(frozen=True)
class DemoResult:
    full: SyncSummary
    incremental: SyncSummary
    touched: list[str]
    """HubSpot ids of the contacts given new activity between the two syncs."""
    shared: Shared | None = None
    """The people in more than one system and the scores each system holds of them."""


VENDOR_SPEED = 5.0
"""Vendor seconds per real second in the demo: the vendors' own processing (Salesforce's
Bulk API 2.0 jobs, Mailchimp's batches, as the sandbox models their pace) and the waits
for it pass five times faster; leadscore's own work is not sped up."""

DEMO_SYSTEMS = ("hubspot", "salesforce", "mailchimp")
"""The systems the demo syncs: one world's people in HubSpot, Salesforce and Mailchimp."""


def run_demo(
    console: Console,
    rules: RuleSet,
    *,
    people: int = 5000,
    seed: int = 7,
    touched: int = 25,
    top: int = 15,
    state: Path | None = None,
    progress: Progress | None = None,
    systems: Sequence[str] = DEMO_SYSTEMS,
    report_to: Path | None = None,
) -> DemoResult:
    """Set up, sync in full, add activity, sync again; print what a user needs to see;
    then write the HTML report of the store to `report_to`, when given."""
    with tempfile.TemporaryDirectory(prefix="leadscore-demo-") as scratch:
        path = state or Path(scratch) / "state.db"
        console.print(
            f"building a synthetic world of {people:,} people (seed {seed}; the sandboxes' "
            f"clock runs {VENDOR_SPEED:g} times faster than real time) ..."
        )
        with Sandbox(people=people, seed=seed, scale=VENDOR_SPEED) as box:
            for name in systems:
                console.print(sandbox_line(box, name), highlight=False)
            console.print(f"state store {path}", highlight=False)
            settings = sandbox_settings(box, f"sqlite:///{path}", demo_stages(rules), systems)
            opened = Leadscore.open(settings, rules=rules, clock=box.now, pace=box.clock,
                                    progress=progress, http=box.sessions())  # fmt: skip
            with opened as app, fewer_collections():
                for name, report in app.setup().items():
                    console.print(setup_line(name, report), highlight=False)
                lifecycle = hubspot_stages(box) if "hubspot" in systems else []
                full = app.sync(SyncOptions(full=True))
                shared = shared_scores(box, app)
                print_summary(console, full, shared.line().splitlines())
                batch, _ = app.job.score()
                shown = [int(r) for r in batch.ranking()[:top]]  # leads rank before customers
                sources = signal_sources(app, batch, shown)
                accounts = account_engagement(app, batch, shown)
                print_ranking(console, batch, box.now(), top, shared.holders(), sources, accounts)
                if (staged := account_stage_line(app)) is not None:
                    console.print(staged, highlight=False)
                hubspot_map = app.job.stage_maps.get("hubspot")
                if hubspot_map is not None:
                    order = {v: i for i, v in enumerate(hubspot_map.order)}
                    moves = [
                        order.get(after or "", -1) - order.get(before or "", -1)
                        for before, after in zip(lifecycle, hubspot_stages(box), strict=True)
                    ]
                    console.print(
                        f"lifecyclestage moved forward for {sum(m > 0 for m in moves):,} "
                        f"contacts and back for {sum(m < 0 for m in moves)} (mapping: "
                        f"{', '.join(f'{k} → {v}' for k, v in DEMO_STAGES['hubspot'].items())})",
                        highlight=False,
                    )

                chosen = add_activity(box, touched, seed) if "hubspot" in systems else []
                console.print(
                    f"\n{len(chosen)} contacts did something new in HubSpot "
                    "(pricing visits, guides, demo requests, questions); syncing again ...",
                    highlight=False,
                )
                incremental = app.sync()
                shared = shared_scores(box, app)
                print_summary(console, incremental, shared.line().splitlines())
                written = in_words(
                    [f"{s.written:,} {VENDORS[name]}" for name, s in incremental.systems.items()]
                )
                console.print(
                    f"incremental sync wrote {written} records: only those whose score, "
                    "stage, grade or reasons changed, in every system that holds the person",
                    highlight=False,
                )
                if report_to is not None:
                    console.print(demo_report(app, box.now(), report_to), highlight=False)
    return DemoResult(full, incremental, chosen, shared)


def demo_report(app: Leadscore, now: datetime, path: Path) -> str:
    """Write the HTML report of the demo's store to `path`; the line that says where."""
    try:
        from sync.report_html import report_page
    except ModuleNotFoundError:
        return "no HTML report: it needs Plotly (pip install 'leadscore[report]')"
    from sync.report_data import store_report

    began, cpu = time.perf_counter(), time.process_time()
    try:
        path.write_text(report_page(store_report(app, made_at=now)), "utf-8")
    except OSError as exc:  # `--report` in a folder that is not there, or not ours
        raise SyncError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    took = f"{time.perf_counter() - began:.1f} s, {time.process_time() - cpu:.1f} s CPU"
    return f"report of the store ({took}): {path.resolve()}; open it in a browser"


def hubspot_stages(box: Sandbox) -> list[str | None]:
    table = box.hubspot.contacts
    with box.hubspot.lock:
        return [table.value("lifecyclestage", row) for row in range(table.size)]


def sandbox_line(box: Sandbox, system: str) -> str:
    """Where a system's emulator listens and what it holds."""
    emulator = box.emulators[system]
    if system == "hubspot":
        held = f"{box.hubspot.contacts.size:,} contacts"
    elif system == "salesforce":
        org = box.salesforce.org
        with box.salesforce.org_lock:
            leads = org.table("Lead")
            lead_ids = [leads.id(row) for row in range(len(leads))]
            converted = sum(org.is_converted(i) for i in lead_ids)
            contacts = len(org.table("Contact"))
        held = (
            f"{len(lead_ids) - converted:,} leads ({converted:,} more converted) "
            f"and {contacts:,} contacts"
        )
    elif system == "mailchimp":
        with box.mailchimp.lock:
            counts = box.mailchimp.audience.counts()
        members = sum(counts.values())
        subscribed = counts.get("subscribed", 0)
        held = f"{members:,} audience members ({subscribed:,} subscribed)"
    else:
        held = "running"
    return f"{VENDORS[system]} sandbox at {emulator.base_url}: {held}"


def setup_line(system: str, report: SetupReport) -> str:
    """What setup made in one system, short enough for a line or two."""
    grants = [c for c in report.created if c.endswith("(field permission)")]
    made = [c for c in report.created if c not in grants]
    objects = Counter(  # company-record fields come as "account Account.Field"
        name.partition(".")[0].removeprefix("account ") for name in made if "." in name
    )
    if len(made) <= 10:
        what = f"{len(made)} ({', '.join(made) or 'none'})"
    elif objects:  # fields named `Object.Field`: how many on each object
        what = f"{len(made)} fields ({', '.join(f'{n} on {o}' for o, n in objects.items())})"
    else:
        what = f"{len(made)} ({', '.join(made[:3])} and {len(made) - 3} more)"
    line = f"setup {VENDORS[system]}: created {what}"
    if grants:
        line += f", granted {len(grants)} field permissions"
    return line + f", updated {len(report.updated)}, {len(report.existing)} already there"


DEMO_STAGES = {
    "hubspot": {
        "Lead": "lead",
        "Marketing qualified": "marketingqualifiedlead",
        "Sales qualified": "salesqualifiedlead",
        "Opportunity": "opportunity",
        "Customer": "customer",
    }
}
"""The default ladder onto HubSpot's default lifecycle stages, as the setting
LEADSCORE_HUBSPOT__LIFECYCLE_STAGES would map them."""


def sandbox_settings(
    box: Sandbox,
    state_url: str = "sqlite://",
    stage_maps: Mapping[str, Mapping[str, str]] | None = None,
    systems: Sequence[str] = ("hubspot",),
) -> Settings:
    """Settings pointing the connectors of `systems` at their emulators in `box`, and
    nothing else: no account, prefix or mapping of the user's environment leaks into a
    sandbox run. `stage_maps` maps our stages onto a system's lifecycle values, per
    system. Salesforce is reached through `box.sessions()`, passed as `Leadscore.open`'s
    `http`."""
    sections: dict[str, dict[str, Any]] = {
        name: dict(values) for name, values in box.connection_settings().items() if name in systems
    }
    for name, mapping in (stage_maps or {}).items():
        setting = system(name).settings.stage_setting
        if setting is not None and name in sections:
            sections[name][setting] = dict(mapping)
    return isolated_settings(state_url=state_url, **sections)


def demo_rules() -> RuleSet:
    """The rules the demo scores with: the bundled ones with RFM, accounts and a sales
    capacity appended (`scoring/rulesets/demo.yaml`)."""
    return parse_rules(demo_rules_text(), "default.yaml + demo.yaml")


def demo_stages(rules: RuleSet) -> dict[str, dict[str, str]]:
    """The demo maps the default ladder onto HubSpot's lifecycle stages when the rules have it."""
    ladder = {s.name for s in rules.stages.ladder} if rules.stages else set()
    return {name: m for name, m in DEMO_STAGES.items() if set(m) <= ladder}


def add_activity(box: Sandbox, count: int, seed: int) -> list[str]:
    """Give `count` seeded-random HubSpot contacts one to three new activities each."""
    rnd = random.Random(seed)
    size = box.hubspot.contacts.size
    chosen = sorted(rnd.sample(range(1, size + 1), min(count, size)))
    for contact in chosen:
        for kind, url in rnd.sample(NEW_ACTIVITY, rnd.randint(1, 3)):
            box.hubspot.add_event(str(contact), kind, url=url)
    return [str(c) for c in chosen]
