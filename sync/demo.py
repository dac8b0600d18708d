"""The demo: the whole product on the local sandbox, with no account anywhere.

Starts the HubSpot emulator over a seeded synthetic world, creates the
leadscore properties, runs a full sync through the real SDK, shows the top
leads and the stage funnel, then lets some contacts do new things and runs an
incremental sync that writes only the contacts whose values changed.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from connectors.hubspot import HubSpotConnector
from sandbox import Sandbox
from scoring import ActivityType, RuleSet
from sync.fields import FieldMap
from sync.pipeline import Sync, SyncOptions, SyncSummary
from sync.report import print_ranking, print_summary
from sync.stages import StageMap
from sync.store import StateStore

A = ActivityType
NEW_ACTIVITY = (
    (A.PAGE_VIEW, "https://leadscore.example/pricing"),
    (A.CONTENT_DOWNLOAD, "https://leadscore.example/guides/scoring"),
    (A.DEMO_REQUEST, "https://leadscore.example/demo"),
    (A.QUESTION, "https://leadscore.example/contact"),
)


@dataclass(frozen=True)
class DemoResult:
    full: SyncSummary
    incremental: SyncSummary
    touched: list[str]
    """HubSpot ids of the contacts given new activity between the two syncs."""


def run_demo(
    console: Console,
    rules: RuleSet,
    *,
    people: int = 5000,
    seed: int = 7,
    touched: int = 25,
    top: int = 15,
    state: Path | None = None,
) -> DemoResult:
    """Set up, sync in full, add activity, sync again; print what a user needs to see."""
    fields = FieldMap.for_rules(rules)
    with tempfile.TemporaryDirectory(prefix="leadscore-demo-") as scratch:
        path = state or Path(scratch) / "state.db"
        console.print(f"building a synthetic world of {people:,} people (seed {seed}) ...")
        with Sandbox(people=people, seed=seed) as box:
            emulator = box.hubspot
            console.print(
                f"HubSpot sandbox at {emulator.base_url}: {emulator.contacts.size:,} contacts; "
                f"state store {path}",
                highlight=False,
            )
            connector = HubSpotConnector(
                emulator.token, host=emulator.base_url, properties=fields.pulled(rules)
            )
            report = connector.setup(fields.specs)
            console.print(
                f"setup: created {len(report.created)} ({', '.join(report.created) or 'none'}), "
                f"updated {len(report.updated)}, {len(report.existing)} already there",
                highlight=False,
            )
            store = StateStore(f"sqlite:///{path}")
            stage_maps = demo_stage_map(rules, connector)
            table = emulator.contacts
            lifecycle = [table.value("lifecyclestage", row) for row in range(table.size)]
            try:
                sync = Sync(rules, store, [connector], fields, clock=box.now, stage_maps=stage_maps)
                full = sync.run(SyncOptions(full=True))
                print_summary(console, full)
                batch, _ = sync.score()
                print_ranking(console, batch, box.now(), top)
                if stage_maps:
                    order = {v: i for i, v in enumerate(stage_maps[0].order)}
                    now = [table.value("lifecyclestage", row) for row in range(table.size)]
                    moves = [
                        order.get(after or "", -1) - order.get(before or "", -1)
                        for before, after in zip(lifecycle, now, strict=True)
                    ]
                    console.print(
                        f"lifecyclestage moved forward for {sum(m > 0 for m in moves):,} "
                        f"contacts and back for {sum(m < 0 for m in moves)} (mapping: "
                        f"{', '.join(f'{k} → {v}' for k, v in DEMO_STAGES.items())})",
                        highlight=False,
                    )

                chosen = add_activity(box, touched, seed)
                console.print(
                    f"\n{len(chosen)} contacts did something new in HubSpot "
                    "(pricing visits, guides, demo requests, questions); syncing again ...",
                    highlight=False,
                )
                incremental = sync.run()
                print_summary(console, incremental)
                written = incremental.systems["hubspot"].written
                console.print(
                    f"incremental sync wrote {written:,} of {emulator.contacts.size:,} contacts: "
                    "only those whose score, stage, grade or reasons changed",
                    highlight=False,
                )
            finally:
                store.close()
    return DemoResult(full, incremental, chosen)


DEMO_STAGES = {
    "Lead": "lead",
    "Marketing qualified": "marketingqualifiedlead",
    "Sales qualified": "salesqualifiedlead",
    "Opportunity": "opportunity",
    "Customer": "customer",
}
"""The default ladder onto HubSpot's default lifecycle stages, as the setting
LEADSCORE_HUBSPOT__LIFECYCLE_STAGES would map them."""


def demo_stage_map(rules: RuleSet, connector: HubSpotConnector) -> list[StageMap]:
    """The demo maps stages onto lifecyclestage when the rule set has the default ladder."""
    ladder = {s.name for s in rules.stages.ladder} if rules.stages else set()
    if not set(DEMO_STAGES) <= ladder:
        return []
    order = connector.stage_values()
    return [StageMap.checked(rules, "hubspot", "lifecyclestage", DEMO_STAGES, order, "demo")]


def add_activity(box: Sandbox, count: int, seed: int) -> list[str]:
    """Give `count` seeded-random HubSpot contacts one to three new activities each."""
    rnd = random.Random(seed)
    size = box.hubspot.contacts.size
    chosen = sorted(rnd.sample(range(1, size + 1), min(count, size)))
    for contact in chosen:
        for kind, url in rnd.sample(NEW_ACTIVITY, rnd.randint(1, 3)):
            box.hubspot.add_event(str(contact), kind, url=url)
    return [str(c) for c in chosen]
