"""The ranked table of a batch of scores, as `leadscore score` and the demo print it: the
best leads with their top reasons, interest, RFM and account, then the stage funnel."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

import numpy as np
from rich import box
from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from scoring import Reason, ScoreBatch, format_reasons, whole_points
from sync.fields import REASONS_SHOWN


def result_columns(batch: ScoreBatch) -> list[str]:
    """The columns of a scored-contacts file, in order."""
    columns = ["id", "email", "score", *batch.dimension_names, "grade", "stage", "disqualified"]
    columns.append("lead")
    if batch.bant_names:
        columns.append("bant")
    if batch.rfm is not None:
        columns += ["rfm", "rfm_score", "rfm_segment"]
    interests = batch.rules.interests
    return [*columns, *(interests.columns() if interests is not None else []), "reasons"]


WIDE = 120
"""Console width from which the ranking shows one column per dimension and reasons on one line."""

Engaged = tuple[int, int]
"""An account's engaged people and its people, as its roll-up counts them."""


def print_ranking(
    console: Console,
    batch: ScoreBatch,
    as_of: datetime,
    top: int,
    holders: Mapping[str, str] | None = None,
    sources: Callable[[int, str], str] | None = None,
    accounts: Mapping[int, Engaged] | None = None,
) -> None:
    """The best leads first (whole points and the top reasons, as the CRMs show them),
    then the stage funnel; customers are kept apart from the leads. `holders` names, per
    person id, the systems that hold them; `sources`, given a row and a rule id, the
    systems its signals came from (shown before the reason's label; "" shows nothing);
    `accounts`, per row, its account's engaged people and people.

    Below `WIDE` columns (80 on most terminals, and when piped) the dimensions share
    one column, each reason takes its own line, and what a lead is besides its score
    (the systems holding it, its RFM, account and top interest) goes under its address,
    so that no word is cut and a lead takes a few lines."""
    leads = batch.leads
    ranking = [row for row in batch.ranking() if leads[row]]
    shown = ranking if top <= 0 else ranking[:top]
    apart = len(batch) - len(ranking)
    kept = f" ({apart:,} customers kept apart)" if apart else ""
    wide = console.width >= WIDE
    has_grades = batch.grade_codes is not None
    has_stages = batch.stage_codes is not None
    rfm = batch.rfm
    has_rfm = rfm is not None and any(rfm.code(int(row)) for row in shown)
    table = Table(
        title=f"Top {len(shown)} of {len(ranking):,} leads{kept}, scored as of "
        f"{as_of:%Y-%m-%d %H:%M} UTC",
        title_justify="left",
        box=box.HEAVY_HEAD if wide else box.SIMPLE_HEAD,
        show_lines=not wide,
    )
    table.add_column("#", justify="right")
    table.add_column("contact", no_wrap=True, overflow="ellipsis", max_width=None if wide else 22)
    if wide and holders:
        table.add_column("in")
    table.add_column("score", justify="right")
    if wide:
        for name in batch.dimension_names:
            table.add_column(name, justify="right")
        if has_grades:
            table.add_column("grade", justify="center")
    if has_stages:
        table.add_column("stage", min_width=None if wide else 11, max_width=None if wide else 12)
    if wide and has_rfm:
        table.add_column("rfm", no_wrap=True)
    table.add_column("why", ratio=1, min_width=20)
    for rank, row in enumerate(shown, start=1):
        index = int(row)
        who = batch.emails.value(index) or str(batch.contact_ids[index])
        # whole points, as written to the CRMs, so that the reasons beside them add up
        total = str(whole_points(float(batch.total[index])))
        grade = batch.grade(index) or "" if has_grades else ""
        where = (holders or {}).get(str(batch.contact_ids[index]), "")
        facts = lead_facts(batch, index, (accounts or {}).get(index), short=not wide)
        cells: list[str | Group] = [str(rank)]
        if wide:
            cells.append(escape(who))
            if holders:
                cells.append(escape(where))
            cells.append(total)
            cells += [str(points) for points in batch.whole_dimensions(index)]
            if has_grades:
                cells.append(grade)
        else:  # under the address, whole: the narrow column would cut them
            under = [f"in {where}"] if where else []
            cells.append(under_address(who, [*under, *facts.values()]))
            cells.append(f"{total} {grade}".strip())
        if has_stages:
            stage = escape(batch.stage(index) or "")
            if index in batch.waiting:  # held below the hand-over stage by sales capacity
                place = f"{ordinal(batch.waiting[index])} in queue"
                stage += f" [dim]({place})[/dim]" if wide else f"\n[dim]{place}[/dim]"
            cells.append(stage)
        if wide and has_rfm:
            cells.append(escape(facts.get("rfm", "").removeprefix("RFM ")))
        explained = batch.explained(index)
        if sources is not None:
            explained = [(with_source(r, sources(index, r.rule_id)), p) for r, p in explained]
        text = format_reasons(
            explained, disqualified=bool(batch.disqualified[index]), shown=REASONS_SHOWN
        )
        why = escape(text)
        if not wide:
            why = why.replace(" · ", "\n")
        if batch.disqualified[index]:
            why = why.replace("DISQUALIFIED", "[red]DISQUALIFIED[/red]", 1)
        if wide:
            extra = [facts[k] for k in ("interest", "account") if k in facts]
            why += "".join(f" · [cyan]{escape(e)}[/cyan]" for e in extra)
        cells.append(why)
        table.add_row(*cells)
    console.print(table)
    if not wide:
        graded = " and its grade" if has_grades else ""
        console.print(
            f"score{graded}; {', '.join(batch.dimension_names)} per contact: "
            "`leadscore explain`, `--out FILE`, or a terminal of 120 columns",
            highlight=False,
        )
    print_totals(console, batch)


def lead_facts(
    batch: ScoreBatch, row: int, engaged: Engaged | None, *, short: bool = False
) -> dict[str, str]:
    """What a lead is besides its score, each a text: `rfm` (its digits and segment, when
    it bought), `account` (its account's engaged people of all) and `interest` (its top
    interest), those it has; `short`: each within 22 characters as a rule (no interest
    points)."""
    facts = {}
    code = batch.rfm.code(row) if batch.rfm is not None else None
    if batch.rfm is not None and code:
        facts["rfm"] = " ".join(t for t in ("RFM", code, batch.rfm.segment(row) or "") if t)
    if engaged is not None:
        of = "/" if short else " of "
        facts["account"] = f"account: {engaged[0]}{of}{engaged[1]} engaged"
    topic = batch.interests.topic(row) if batch.interests is not None else None
    if short and topic is not None:
        facts["interest"] = f"interest: {topic.text}"
    elif topic is not None:
        facts["interest"] = top_interest(batch, row)
    return facts


def under_address(who: str, lines: list[str]) -> Group:
    """A narrow contact cell: the address on one line (cut at the column's end), and each
    of `lines` under it, dimmed, wrapped at spaces."""
    head = Text(who, no_wrap=True, overflow="ellipsis")
    return Group(head, *(Text(line, style="dim", no_wrap=False, overflow="fold") for line in lines))


def print_totals(console: Console, batch: ScoreBatch) -> None:
    """The stage funnel, the RFM segments, the top interests and the disqualified, of the
    whole batch, a line each."""
    if batch.stage_codes is not None and batch.rules.stages is not None:
        counts = Counter(batch.stage(i) for i in range(len(batch)))
        funnel = " → ".join(f"{s.name} {counts.get(s.name, 0)}" for s in batch.rules.stages.ladder)
        console.print(f"stages: {funnel}", highlight=False)
    if batch.rfm is not None and batch.rules.rfm is not None and batch.rules.rfm.segments:
        groups = Counter(batch.rfm.segment(i) for i in range(len(batch)))
        named = ", ".join(f"{s.name} {groups.get(s.name, 0)}" for s in batch.rules.rfm.segments)
        bought = int(batch.rfm.measures.bought.sum())
        console.print(f"RFM segments of the {bought:,} who bought: {named}", highlight=False)
    if batch.rfm is not None and batch.rfm.measures.bought.any():
        console.print(f"best RFM: {' · '.join(best_rfm(batch, 3))}", highlight=False)
    if batch.interests is not None:
        tops = Counter(batch.interests.top.tolist())
        listed = [f"{t.text} {tops[i]:,}" for i, t in enumerate(batch.interests.interests.topics)]
        none = f"none {tops[-1]:,}"
        console.print(f"top interests: {' · '.join([*listed, none])}", highlight=False)
    disqualified = int(batch.disqualified.sum())
    if disqualified:
        console.print(f"disqualified: {disqualified}", highlight=False)


def best_rfm(batch: ScoreBatch, count: int) -> list[str]:
    """The `count` contacts with the highest RFM sum (then the most spent), each as its
    address, digits and segment."""
    assert batch.rfm is not None
    rfm = batch.rfm
    bought = np.flatnonzero(rfm.measures.bought)
    best = bought[np.lexsort((-rfm.measures.amount[bought], -rfm.total[bought]))][:count]
    named = [(batch.emails.value(int(r)), rfm.code(int(r)), rfm.segment(int(r))) for r in best]
    return [" ".join(t for t in texts if t) for texts in named]


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 21st, ..."""
    teen = 10 <= number % 100 <= 20
    return f"{number}{'th' if teen else {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th')}"


def with_source(reason: Reason, source: str) -> Reason:
    """The reason with where its signals came from before its label (none: as it is)."""
    return replace(reason, label=f"{source} {reason.label}") if source else reason


def top_interest(batch: ScoreBatch, row: int) -> str:
    """`top interest: analytics (15)`, or "" without one (or without interests)."""
    topic = batch.interests.topic(row) if batch.interests is not None else None
    if topic is None or batch.interests is None:
        return ""
    return f"top interest: {topic.text} ({whole_points(float(batch.interests.top_score[row]))})"
