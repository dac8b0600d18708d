"""Benchmark of the batch engine against a hand-written plain numpy baseline.

    .venv/bin/python bench/engine.py                  # 530,000 people, about 10M activities
    .venv/bin/python bench/engine.py --people 50000

What it does:

1. Generates the sandbox's seeded synthetic B2B world (`sandbox.world.generate_world`,
   one year up to its `now`): companies with industry, country and a heavy-tailed head
   count; people with job function, seniority, title and an address at their company's
   domain, a free-mail domain or (rarely) a competitor's; and their event log: campaign
   email sends with the opens, clicks (mail-gateway and sandbox scanner clicks among
   them), bounces, unsubscribes and spam reports that follow, site sessions, downloads,
   forms, questions, demo requests, meetings, quotes and purchases. At the default size
   the log holds about 10M events. The world becomes the engine's frames through
   `sandbox.world.columns.world_columns` and `ContactFrame.from_arrays` /
   `ActivityFrame.from_arrays`, as in the tests; the CRM stage of each contact
   (`lifecycle_stage`) is Customer for the world's buyers, missing for the others.
2. Times `scoring.score` with `bench/rules_realistic.yaml` (best of --repeat), scoring
   at the world's `now`.
3. Times `baseline`: the same arithmetic for the same rule set, written once by
   hand in plain numpy with the rules hard-coded. It is the "physical limit" of
   plain numpy, written straightforwardly: it groups the usable rows by activity
   type once (as the engine does), but it does not use tricks the engine could
   not (no knowledge of how the data were generated).
4. Checks that both give the same totals (and dimensions and disqualifications)
   for every contact, and exits 1 if they do not.

Machine clicks. The engine drops, by default, email clicks made less than 10 s
after the email_sent of the same campaign to the same contact, and clicks in a
burst of more than 2 by one contact within one second. The world holds such
clicks, as real data do: mail gateways follow links within seconds of delivery
and sandboxes open every link of a message within one second. The baseline
applies the same filter in plain numpy (with the default thresholds
hard-coded), so both sides pay for it, and the totals check covers it.

What the baseline does not do: the engine also keeps every rule's points and
match count per contact (for explanations), the stage ladder and the grades;
the baseline computes only what the totals need, plus the disqualification flag.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

import scoring
from sandbox.world import generate_world
from sandbox.world.columns import Plain, world_columns
from scoring.filters import machine_clicks as engine_machine_clicks
from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    NumericColumn,
)
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

RULES_PATH = Path(__file__).with_name("rules_realistic.yaml")
DAY = 86_400.0
IntArray = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


# --- the synthetic data set ---------------------------------------------------------------


@dataclass
class Dataset:
    contacts: ContactFrame
    activities: ActivityFrame
    as_of: datetime
    seconds_generate: float
    """generate_world."""
    seconds_frames: float
    """world_columns and the frames' from_arrays (which derive email_domain and email_free)."""


def generate(people: int, seed: int, days: int) -> Dataset:
    started = time.perf_counter()
    world = generate_world(people, seed=seed, days=days)
    generated = time.perf_counter()
    c = world_columns(world)
    stage = np.empty(1, dtype=object)
    stage[0] = "Customer"  # the CRM records won deals
    crm: dict[str, Plain] = {
        "lifecycle_stage": (np.where(world.people.converted, 0, -1).astype(np.int32), stage)
    }
    contacts = ContactFrame.from_arrays(c.ids, c.emails, c.people | crm)
    activities = ActivityFrame.from_arrays(c.person, c.type, c.at, c.events)
    framed = time.perf_counter()
    as_of = datetime.fromtimestamp(world.now, UTC)
    return Dataset(contacts, activities, as_of, generated - started, framed - generated)


# --- the plain numpy baseline -------------------------------------------------------------


def text_mask(column: Column | None, values: list[str]) -> Bools:
    """Rows whose text is one of `values`, ignoring case (False where missing)."""
    assert isinstance(column, CategoricalColumn)
    wanted = {v.casefold() for v in values}
    table = np.array([str(c).casefold() in wanted for c in column.categories] + [False])
    return table[column.codes]


def url_table(urls: CategoricalColumn, test: Callable[[str], object]) -> Bools:
    """Truth value per URL category, and False for a missing URL (the last entry)."""
    return np.array([bool(test(str(u).casefold())) for u in urls.categories] + [False])


def machine_clicks(acts: ActivityFrame, usable: Bools) -> Bools:
    """Email clicks < 10 s after a send of the same campaign, or > 2 in one second."""
    types, who, when = acts.type_codes, acts.contact_rows, acts.occurred_at
    clicks = np.flatnonzero(usable & (types == TYPE_CODES[ActivityType.EMAIL_CLICK]))
    sends = np.flatnonzero(usable & (types == TYPE_CODES[ActivityType.EMAIL_SENT]))
    machine = np.zeros(len(acts), dtype=bool)
    # bursts: three clicks of one contact within one second flag all three
    by_contact = clicks[np.lexsort((when[clicks], who[clicks]))]
    c, t = who[by_contact], when[by_contact]
    third = (c[2:] == c[:-2]) & (t[2:] - t[:-2] < 1.0)
    burst = np.zeros(len(by_contact), dtype=bool)
    burst[:-2] |= third
    burst[1:-1] |= third
    burst[2:] |= third
    machine[by_contact[burst]] = True
    # right after delivery: merge sends and clicks by (contact, campaign, time), sends
    # first at equal times, and compare each click with the last send before it
    campaign = acts.columns["campaign"]
    assert isinstance(campaign, CategoricalColumn)
    both = np.concatenate((sends, clicks))
    key = who[both].astype(np.int64) * (len(campaign.categories) + 1) + campaign.codes[both] + 1
    is_click = np.arange(len(both)) >= len(sends)
    order = np.lexsort((is_click, when[both], key))
    both, key, is_click = both[order], key[order], is_click[order]
    last_send = np.maximum.accumulate(np.where(is_click, -1, np.arange(len(both))))
    early = is_click & (last_send >= 0)
    src = last_send[early]
    early[early] = (key[src] == key[early]) & (when[both[early]] - when[both[src]] < 10.0)
    machine[both[early]] = True
    return machine


def baseline(
    contacts: ContactFrame, acts: ActivityFrame, as_of: datetime
) -> tuple[Floats, Floats, Bools]:
    """Totals, dimensions (fit, activity, engagement) and disqualification in plain numpy,
    for the rules of bench/rules_realistic.yaml written out by hand."""
    now = as_of.timestamp()
    n = len(contacts)
    usable = acts.occurred_at <= now
    usable &= ~machine_clicks(acts, usable)
    url = acts.columns["url"]
    assert isinstance(url, CategoricalColumn)
    by_type: dict[ActivityType, tuple[npt.NDArray[np.intp], IntArray, Floats]] = {}

    def behaviour(
        kind: ActivityType,
        points: float,
        *,
        where: Bools | None = None,
        who_fits: Bools | None = None,
        window: float | None = None,
        half_life: float | None = None,
        once: bool = False,
        cap: float | None = None,
    ) -> tuple[Floats, npt.NDArray[np.intp]]:
        if kind not in by_type:  # usable rows of the type, their contacts and ages, once
            rows = np.flatnonzero(usable & (acts.type_codes == TYPE_CODES[kind]))
            by_type[kind] = rows, acts.contact_rows[rows], now - acts.occurred_at[rows]
        rows, who, age = by_type[kind]
        keep = np.ones(len(rows), dtype=bool)
        if where is not None:
            keep &= where[url.codes[rows]]
        if window is not None:
            keep &= age <= window * DAY
        if who_fits is not None:
            keep &= who_fits[who]
        who, age = who[keep], age[keep]
        counts = np.bincount(who, minlength=n)
        if once and half_life is not None:
            youngest = np.full(n, np.inf)
            np.minimum.at(youngest, who, age)
            result = np.where(counts > 0, points * np.exp2(-youngest / (half_life * DAY)), 0.0)
        elif once:
            result = np.where(counts > 0, float(points), 0.0)
        elif half_life is not None:
            weights = points * np.exp2(-age / (half_life * DAY))
            result = np.bincount(who, weights=weights, minlength=n)
        else:
            result = counts * float(points)
        if cap is not None:
            np.clip(result, -cap, cap, out=result)
        return result, counts

    def contains(*needles: str) -> Bools:
        return url_table(url, lambda u: any(needle in u for needle in needles))

    pricing = contains("/pricing")
    product = re.compile("/(product|demo)(/|$)")
    employees = contacts.columns["employees"]
    assert isinstance(employees, NumericColumn)
    emp = employees.values

    engagement = np.zeros(n)
    engagement += behaviour(ActivityType.EMAIL_OPEN, 1, cap=10, window=180, half_life=60)[0]
    engagement += behaviour(ActivityType.EMAIL_CLICK, 3, cap=15, window=180, half_life=45)[0]
    engagement += behaviour(
        ActivityType.EMAIL_CLICK, 5, where=pricing, once=True, window=90, half_life=30
    )[0]
    engagement += behaviour(ActivityType.EMAIL_UNSUBSCRIBE, -15, once=True, window=365)[0]
    engagement += behaviour(ActivityType.EMAIL_BOUNCE, -10, once=True, window=365)[0]
    spam_points, spam_counts = behaviour(ActivityType.EMAIL_SPAM_REPORT, -40)
    engagement += spam_points

    view = ActivityType.PAGE_VIEW
    activity = np.zeros(n)
    activity += behaviour(view, 1, cap=20, window=90, half_life=30)[0]
    activity += behaviour(view, 10, where=pricing, cap=30, window=30, half_life=14)[0]
    activity += behaviour(
        view,
        5,
        where=contains("/pricing/enterprise"),
        who_fits=emp >= 1000,
        cap=15,
        window=30,
        half_life=14,
    )[0]
    activity += behaviour(
        view, 3, where=url_table(url, product.search), cap=15, window=60, half_life=30
    )[0]
    activity += behaviour(view, 4, where=contains("/customers"), cap=12, window=90, half_life=30)[0]
    activity += behaviour(
        view, 2, where=contains("/docs/", "/integrations/"), cap=10, window=60, half_life=30
    )[0]
    activity += behaviour(view, 0.5, where=contains("/blog/"), cap=5, window=60, half_life=30)[0]
    activity += behaviour(view, -5, where=contains("/careers"), once=True, window=90)[0]
    activity += behaviour(ActivityType.CONTENT_DOWNLOAD, 8, cap=24, window=180, half_life=60)[0]
    activity += behaviour(
        ActivityType.CONTENT_DOWNLOAD,
        5,
        where=contains("playbook", "benchmarks"),
        once=True,
        window=180,
        half_life=60,
    )[0]
    activity += behaviour(ActivityType.FORM_SUBMISSION, 15, cap=30, window=180, half_life=90)[0]
    activity += behaviour(
        ActivityType.FORM_SUBMISSION,
        5,
        where=contains("/webinars/"),
        cap=10,
        window=120,
        half_life=60,
    )[0]
    activity += behaviour(ActivityType.DEMO_REQUEST, 40, once=True, window=90, half_life=30)[0]
    activity += behaviour(ActivityType.QUESTION, 20, cap=40, window=90, half_life=30)[0]
    activity += behaviour(ActivityType.SOCIAL_CLICK, 2, cap=10, window=60, half_life=30)[0]
    engagement += behaviour(ActivityType.NEWSLETTER_SIGNUP, 5, once=True)[0]
    activity += behaviour(ActivityType.MEETING, 30, cap=60, window=120, half_life=45)[0]

    col = contacts.columns
    competitor = text_mask(col["email_domain"], ["rivalscore.example", "funnelforge.example"])
    fit = np.zeros(n)
    core = ["Software", "Financial services", "Professional services"]
    fit += np.where(text_mask(col["industry"], core), 15, 0.0)
    fit += np.where(
        text_mask(col["industry"], ["Healthcare", "Manufacturing", "Retail", "Logistics"]), 5, 0.0
    )
    fit += np.where(text_mask(col["industry"], ["Education", "Government", "Nonprofit"]), -5, 0.0)
    fit += np.where((emp >= 50) & (emp <= 1000), 15, 0.0)
    fit += np.where((emp >= 1001) & (emp <= 10000), 10, 0.0)
    fit += np.where(emp < 10, -10, 0.0)
    fit += np.where(text_mask(col["country"], ["US", "CA", "GB", "DE", "FR", "NL"]), 10, 0.0)
    fit += np.where(text_mask(col["country"], ["IN", "BR", "MX", "ZA", "AE"]), -30, 0.0)
    buyers = ["Marketing", "Sales", "Revenue operations"]
    fit += np.where(text_mask(col["job_function"], buyers), 10, 0.0)
    fit += np.where(text_mask(col["seniority"], ["C-level", "VP", "Director"]), 10, 0.0)
    fit += np.where(text_mask(col["job_function"], ["Student", "Job seeker"]), -20, 0.0)
    fit += np.where(text_mask(col["email_free"], ["true"]), -10, 0.0)
    fit += np.where(competitor, -50, 0.0)

    dims = np.empty((n, 3))
    dims[:, 0] = np.clip(fit, -60, 60)
    dims[:, 1] = np.minimum(activity, 100)
    dims[:, 2] = np.clip(engagement, -40, 40)
    total = dims[:, 0] + dims[:, 1] + dims[:, 2]
    disqualified = (spam_counts > 0) | competitor
    return total, dims, disqualified


# --- the run -------------------------------------------------------------------------------

T = TypeVar("T")


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, list[float], T]:
    """Smallest wall time of `repeat` runs, every time, and the last result."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeat):
        result = None  # free the previous result before the next run
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    assert result is not None
    return min(times), times, result


def peak_mb() -> float:
    """Peak resident memory of the process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show(label: str, text: str) -> None:
    print(f"{label:<10} {text}", flush=True)


def seconds(best: float, every: list[float]) -> str:
    return f"{best:.2f} s (best of {len(every)}: {' '.join(f'{t:.2f}' for t in every)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--people", type=int, default=530_000, help="people in the world (~19 events each)"
    )
    parser.add_argument("--days", type=int, default=365, help="days of events up to now")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile one engine run (cProfile) and print its N costliest functions",
    )
    args = parser.parse_args(argv)

    rules = scoring.load_rules(RULES_PATH)
    data = generate(args.people, args.seed, args.days)
    contacts, acts, as_of = data.contacts, data.activities, data.as_of
    shares = np.bincount(acts.type_codes, minlength=len(ACTIVITY_TYPES)) / max(len(acts), 1)
    mix = [f"{t.value} {s:.1%}" for t, s in zip(ACTIVITY_TYPES, shares, strict=True) if s > 0.004]
    behaviour_rules = sum(r.is_behaviour for r in rules.rules)
    show("contacts", f"{len(contacts):,}")
    show(
        "activities",
        f"{len(acts):,} over {args.days} days (seed {args.seed}, as of {as_of:%Y-%m-%d %H:%M} UTC)",
    )
    show("mix", ", ".join(mix))
    show(
        "rules",
        f"{len(rules.rules)} ({behaviour_rules} behaviour, "
        f"{len(rules.rules) - behaviour_rules} fit) from {RULES_PATH.name}",
    )
    show("generate", f"{data.seconds_generate:.2f} s (generate_world)")
    show("frames", f"{data.seconds_frames:.2f} s (world_columns, from_arrays: email columns)")
    show("peak rss", f"{peak_mb():.0f} MB after generating")

    engine_s, engine_all, batch = best_of(
        args.repeat, lambda: scoring.score(rules, contacts, acts, as_of)
    )
    show("engine", seconds(engine_s, engine_all))
    show("peak rss", f"{peak_mb():.0f} MB after the engine")
    base_s, base_all, (total, dims, disqualified) = best_of(
        args.repeat, lambda: baseline(contacts, acts, as_of)
    )
    show("baseline", seconds(base_s, base_all))
    ratio = engine_s / base_s
    show("ratio", f"{ratio:.2f} (goal <= 1.5{'' if ratio <= 1.5 else ': missed'})")
    peak = peak_mb()
    goal = "" if peak < 2048 else ": missed"
    show("peak rss", f"{peak:.0f} MB, process peak after the timed runs (goal < 2048{goal})")

    usable = acts.occurred_at <= as_of.timestamp()
    clicks = int((usable & (acts.type_codes == TYPE_CODES[ActivityType.EMAIL_CLICK])).sum())
    flagged = machine_clicks(acts, usable)
    same = np.array_equal(flagged, engine_machine_clicks(acts, usable, rules.filters.bot_clicks))
    show(
        "filtered",
        f"{int(flagged.sum()):,} of {clicks:,} email clicks are machine clicks "
        f"({'same rows as' if same else 'NOT the same rows as'} the engine's filter)",
    )
    nonzero, disqualified_count = int((batch.total != 0).sum()), int(batch.disqualified.sum())
    show(
        "scores",
        f"{nonzero:,} non-zero, mean {batch.total.mean():.2f}, max {batch.total.max():.2f}, "
        f"{disqualified_count:,} disqualified",
    )
    if rules.stages is not None and batch.stage_codes is not None:
        ladder = rules.stages.ladder
        reached = np.bincount(batch.stage_codes + 1, minlength=len(ladder) + 1)[1:]
        show("stages", ", ".join(f"{s.name} {c:,}" for s, c in zip(ladder, reached, strict=True)))

    bad_total = ~np.isclose(batch.total, total)
    bad_dims = ~np.isclose(batch.dimensions, dims).all(axis=1)
    bad_disq = batch.disqualified != disqualified
    if not np.allclose(batch.total, total) or bad_dims.any() or bad_disq.any() or not same:
        show(
            "check",
            f"FAILED: engine and baseline disagree on {int(bad_total.sum()):,} totals, "
            f"{int(bad_dims.sum()):,} dimension rows, {int(bad_disq.sum()):,} disqualified",
        )
        for row in np.flatnonzero(bad_total | bad_dims | bad_disq)[:5].tolist():
            print(
                f"  row {row}: engine {batch.total[row]:.4f} {batch.dimensions[row].round(4)}"
                f" baseline {total[row]:.4f} {dims[row].round(4)}"
            )
            print(f"    engine reasons: {batch.reasons_text(row)}")
        return 1
    worst = float(np.abs(batch.total - total).max()) if len(total) else 0.0
    show("check", f"totals agree on {len(total):,} contacts (max difference {worst:.2g})")
    show("peak rss", f"{peak_mb():.0f} MB at the end, with the checks")

    if args.profile:
        del batch
        profiler = cProfile.Profile()
        profiler.runcall(scoring.score, rules, contacts, acts, as_of)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
