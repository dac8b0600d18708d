"""The demo: the whole product on the local sandbox, with no account anywhere.

Starts the HubSpot emulator over a seeded synthetic world, creates the
leadscore properties, runs a full sync through the real SDK, shows the top
leads and the stage funnel, then lets some contacts do new things and runs an
incremental sync that writes only the contacts whose values changed.
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from connectors.registry import system
from sandbox import Sandbox
from scoring import ActivityType, RuleSet
from sync.app import Leadscore
from sync.pipeline import Progress
from sync.report import print_ranking, print_summary
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
) -> DemoResult:
    """Set up, sync in full, add activity, sync again; print what a user needs to see."""
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
            settings = sandbox_settings(box, f"sqlite:///{path}", demo_stages(rules))
            with Leadscore.open(settings, rules=rules, clock=box.now, progress=progress) as app:
                report = app.setup()["hubspot"]
                console.print(
                    f"setup: created {len(report.created)} "
                    f"({', '.join(report.created) or 'none'}), updated {len(report.updated)}, "
                    f"{len(report.existing)} already there",
                    highlight=False,
                )
                table = emulator.contacts
                lifecycle = [table.value("lifecyclestage", row) for row in range(table.size)]
                full = app.sync(SyncOptions(full=True))
                print_summary(console, full)
                batch, _ = app.job.score()
                print_ranking(console, batch, box.now(), top)
                stage_maps = list(app.job.stage_maps.values())
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
                        f"{', '.join(f'{k} → {v}' for k, v in DEMO_STAGES['hubspot'].items())})",
                        highlight=False,
                    )

                chosen = add_activity(box, touched, seed)
                console.print(
                    f"\n{len(chosen)} contacts did something new in HubSpot "
                    "(pricing visits, guides, demo requests, questions); syncing again ...",
                    highlight=False,
                )
                incremental = app.sync()
                print_summary(console, incremental)
                written = incremental.systems["hubspot"].written
                console.print(
                    f"incremental sync wrote {written:,} of {emulator.contacts.size:,} contacts: "
                    "only those whose score, stage, grade or reasons changed",
                    highlight=False,
                )
    return DemoResult(full, incremental, chosen)


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
) -> Settings:
    """Settings pointing every connector at its emulator in `box`, and nothing else: no
    account, prefix or mapping of the user's environment leaks into a sandbox run.
    `stage_maps` maps our stages onto a system's lifecycle values, per system."""
    sections: dict[str, dict[str, Any]] = {
        name: dict(values) for name, values in box.connection_settings().items()
    }
    for name, mapping in (stage_maps or {}).items():
        setting = system(name).settings.stage_setting
        if setting is not None and name in sections:
            sections[name][setting] = dict(mapping)
    return isolated_settings(state_url=state_url, **sections)


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
