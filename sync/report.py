"""What a person sees of a batch of scores: the ranked table and the stage funnel."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scoring import ScoreBatch
from scoring.explain import number


def result_columns(batch: ScoreBatch) -> list[str]:
    """The columns of a scored-contacts file, in order."""
    columns = ["id", "email", "score", *batch.dimension_names, "grade", "stage", "disqualified"]
    if batch.bant_names:
        columns.append("bant")
    return [*columns, "reasons"]


def print_ranking(console: Console, batch: ScoreBatch, as_of: datetime, top: int) -> None:
    """The best leads first, then the stage funnel."""
    ranking = batch.ranking()
    shown = ranking if top <= 0 else ranking[:top]
    table = Table(
        title=f"Top {len(shown)} of {len(batch)} contacts, scored as of {as_of:%Y-%m-%d %H:%M} UTC",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("contact")
    table.add_column("score", justify="right")
    for name in batch.dimension_names:
        table.add_column(name, justify="right")
    has_grades = batch.grade_codes is not None
    has_stages = batch.stage_codes is not None
    if has_grades:
        table.add_column("grade", justify="center")
    if has_stages:
        table.add_column("stage")
    table.add_column("why", overflow="fold", ratio=1)
    for rank, row in enumerate(shown, start=1):
        index = int(row)
        who = batch.emails.value(index) or str(batch.contact_ids[index])
        cells = [str(rank), escape(who), number(float(batch.total[index]))]
        cells += [number(float(v)) for v in batch.dimensions[index]]
        if has_grades:
            cells.append(batch.grade(index) or "")
        if has_stages:
            cells.append(escape(batch.stage(index) or ""))
        why = escape(batch.reasons_text(index, limit=4))
        if batch.disqualified[index]:
            why = f"[red]DISQUALIFIED[/red] {why}"
        cells.append(why)
        table.add_row(*cells)
    console.print(table)
    if has_stages and batch.rules.stages is not None:
        counts = Counter(batch.stage(i) for i in range(len(batch)))
        funnel = " → ".join(f"{s.name} {counts.get(s.name, 0)}" for s in batch.rules.stages.ladder)
        console.print(f"stages: {funnel}", highlight=False)
    disqualified = int(batch.disqualified.sum())
    if disqualified:
        console.print(f"disqualified: {disqualified}", highlight=False)
