"""100 tenants on paper: calls a day against each system's daily budget, hours per full and
incremental sync at each tier's rate, PostgreSQL rows and size, and what breaks first.

    .venv/bin/python bench/scale.py                  # the defaults, as text
    .venv/bin/python bench/scale.py --markdown       # the same as docs/scale.md shows it
    .venv/bin/python bench/scale.py --activity-per-day 0.2 --change-rate 0.05 --runs-per-day 24

A model, not a run: nothing is called, and it answers in about a second. Its parts, each
with its source beside it:
- how the connectors page and batch: their own constants, imported, so a page size
  changed there changes the figures here;
- the vendors' limits: HubSpot's tiers from `connectors.hubspot.limits`, Salesforce's
  allocation formula and Bulk API limits, Mailchimp's 10 connections;
- figures measured on sandbox syncs: the calls of an incremental run with nothing new and
  the bytes per row of the store (`bench/scale_measure.py`), the activity a contact
  brings, a full HubSpot sync's wall time against its rate bound and a full pass's local
  CPU and memory (README, *Performance*);
- assumptions about the tenants (`Assumptions`: activity per contact per day, the share
  of contacts that change, how often a full pass runs), options with defaults.

The fleet is 100 tenants with contact counts spread on a log scale from 10,000 to
5,000,000, each with one system and tier, drawn from `--seed`. Each tenant is its own
portal, org or audience, so no vendor limit is shared between tenants; the workers, their
memory and the PostgreSQL server are.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_systems import (
    HUBSPOT_MEASURED,
    HUBSPOT_TIERS,
    POSTGRES_BYTES,
    SIZES,
    SQLITE_BYTES,
    Assumptions,
    Load,
    hubspot,
    local_mb,
    local_seconds,
    mailchimp,
    salesforce,
    written_per_day,
)

__all__ = ["HUBSPOT_MEASURED", "Assumptions", "hubspot", "mailchimp", "salesforce"]


@dataclass(frozen=True)
class Tier:
    system: str
    tier: str
    licences: int = 50
    """Salesforce's licences (its allocation grows with them)."""

    def load(self, n: int, a: Assumptions) -> Load:
        if self.system == "HubSpot":
            return hubspot(n, self.tier, a)
        if self.system == "Salesforce":
            return salesforce(n, self.tier, a, self.licences)
        return mailchimp(n, self.tier, a)


def tiers(licences: int) -> list[Tier]:
    found = [Tier("HubSpot", t) for t in HUBSPOT_TIERS]
    found += [Tier("Salesforce", e, licences) for e in ("developer", "enterprise", "unlimited")]
    return [*found, Tier("Mailchimp", "10 connections")]


def store(n: int, a: Assumptions, per_row: dict[str, float]) -> tuple[float, float]:
    """(rows, bytes) of one tenant's store after `days_kept` days."""
    people = n
    acts = n * (a.activities_per_contact + a.activity_per_day * a.days_kept)
    history = n + written_per_day(n, a) * a.days_kept
    rows = 3 * people + acts + history
    size = people * per_row["person"] + acts * per_row["activity"] + history * per_row["history"]
    return rows, size


def first_break(tier: Tier, a: Assumptions) -> dict[str, int | None]:
    """Per check, the fewest contacts (on a 2 % grid from 10,000 to 5,000,000) that fail it."""
    grid = np.unique(np.round(np.geomspace(10_000, 5_000_000, 320)).astype(int))
    found: dict[str, int | None] = {}
    for n in grid:
        for name, ok in tier.load(int(n), a).checks.items():
            found.setdefault(name, None)
            if not ok and found[name] is None:
                found[name] = int(n)
    return found


def fleet(seed: int, count: int, licences: int) -> list[tuple[Tier, int]]:
    rng = np.random.default_rng(seed)
    sizes = np.round(np.exp(rng.uniform(math.log(10_000), math.log(5_000_000), count)))
    choices = tiers(licences)
    # In the order of `tiers`: HubSpot starter, professional, enterprise, with the API
    # limit increase, an OAuth app; Salesforce developer, enterprise, unlimited; Mailchimp.
    weights = np.array([0.15, 0.2, 0.1, 0.05, 0.0, 0.0, 0.2, 0.13, 0.17])
    picks = rng.choice(len(choices), size=count, p=weights)
    return [(choices[int(i)], int(n)) for i, n in zip(picks, sizes, strict=True)]


def number(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def table(headers: Sequence[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def report(a: Assumptions, seed: int, licences: int, markdown: bool) -> str:
    out: list[str] = []
    headers = ["system / tier", "contacts", "full: calls", "full: h", "run: calls",
               "run: min", "calls a day", "daily limit", "share", "fails"]  # fmt: skip
    rows: list[list[str]] = []
    for tier in tiers(licences):
        for n in SIZES:
            load = tier.load(n, a)
            share = f"{load.day_calls / load.daily_limit:.0%}" if load.daily_limit else "none"
            failed = [k for k, ok in load.checks.items() if not ok]
            rows.append([f"{load.system} {load.tier}", f"{n:,}", number(load.full_calls),
                         f"{load.full_hours:.2f}", number(load.run_calls),
                         f"{load.run_minutes:.2f}", number(load.day_calls),
                         f"{load.daily_limit:,}" if load.daily_limit else "none", share,
                         "; ".join(failed) or "-"])  # fmt: skip
    out += ["Per system and tier, one tenant:", table(headers, rows, markdown), ""]

    out.append(
        f"Per tenant, by size: its store after {a.days_kept:g} days, its full pass's local work:"
    )
    sized: list[list[str]] = []
    for n in SIZES:
        rows_n, pg = store(n, a, POSTGRES_BYTES)
        sized.append([f"{n:,}", f"{rows_n:,.0f}", f"{pg / 1e9:,.2f}",
                      f"{store(n, a, SQLITE_BYTES)[1] / 1e9:,.2f}",
                      f"{local_seconds(n) / 60:.2f}", f"{local_mb(n) / 1024:.1f}"])  # fmt: skip
    headers = ["contacts", "rows", "PostgreSQL GB", "SQLite GB", "local CPU min", "memory GB"]
    out += [table(headers, sized, markdown), ""]

    out.append("What breaks first (fewest contacts failing each check):")
    breaks: list[list[str]] = []
    for tier in tiers(licences):
        found = sorted((n, k) for k, n in first_break(tier, a).items() if n is not None)
        said = "; ".join(f"{k} at {n:,}" for n, k in found)
        breaks.append([f"{tier.system} {tier.tier}", said or "nothing up to 5,000,000"])
    out += [table(["system / tier", "breaks, in order"], breaks, markdown), ""]

    tenants = fleet(seed, 100, licences)
    loads = [tier.load(n, a) for tier, n in tenants]
    rows_pg = [store(n, a, POSTGRES_BYTES) for _, n in tenants]
    hours = sum(
        x.run_minutes / 60 * a.runs_per_day + x.full_hours / a.full_every_days for x in loads
    )
    full = sum(x.full_hours for x in loads)
    memory = sum(local_mb(n) for _, n in tenants) / 1024
    failing: dict[str, int] = {}
    for x in loads:
        for k, ok in x.checks.items():
            failing[k] = failing.get(k, 0) + (not ok)
    sizes = sorted(n for _, n in tenants)
    big = max(rows_pg, key=lambda r: r[1])
    out.append(f"The fleet: 100 tenants (seed {seed}), {sum(sizes):,} contacts in all "
               f"(median {sizes[50]:,}, largest {sizes[-1]:,}):")  # fmt: skip
    summary = [
        ["API calls a day, all tenants", number(sum(x.day_calls for x in loads))],
        ["sync hours a day (incremental runs and full passes)", f"{hours:,.1f}"],
        ["workers busy on average (hours / 24)", f"{hours / 24:.1f}"],
        ["full passes: hours a week, all tenants", f"{7 * full / a.full_every_days:,.1f}"],
        ["memory if every full pass started at once", f"{memory:,.0f} GB"],
        ["PostgreSQL rows after the days kept", f"{sum(r for r, _ in rows_pg):,.0f}"],
        ["PostgreSQL size, indexes included", f"{sum(b for _, b in rows_pg) / 1e9:,.1f} GB"],
        ["largest tenant's store", f"{big[1] / 1e9:,.1f} GB"],
        *[[f"tenants failing: {k}", str(v)] for k, v in sorted(failing.items()) if v],
    ]
    out.append(table(["figure", "value"], summary, markdown))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in fields(Assumptions):
        parser.add_argument("--" + f.name.replace("_", "-"), type=type(f.default),
                            default=f.default)  # fmt: skip
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--licences", type=int, default=50, help="Salesforce licences")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    a = Assumptions(**{f.name: getattr(args, f.name) for f in fields(Assumptions)})
    print(report(a, args.seed, args.licences, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
