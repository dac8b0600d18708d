"""The HTML report: `ReportData` drawn as one self-contained page.

Charts are Plotly figures (`plotly.graph_objects`), each a `<div class="chart">` with the
script that draws it; plotly.js is inlined once, in the page's head, so the file opens
with no network. Every text that comes from the data (ids, emails, labels, reasons) is
HTML-escaped, in the tables and in the charts alike (Plotly reads a subset of HTML in
its labels and shows escaped text as written). Plotly is the `report` extra: importing
this module without it raises `ModuleNotFoundError`, which `leadscore report` turns into
one line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from sync.backtest_report import figure, percent
from sync.capacity import waited
from sync.report_data import ReportData
from sync.report_figures import (
    FONT,
    calibration_figure,
    conversion_figure,
    funnel_figure,
    grades_figure,
    handover_figure,
    lift_figure,
    movement_figure,
    roc_figure,
    rules_figure,
    scores_figure,
)
from sync.words import counted

CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: FONT; margin: 0; color: #111827; background: #f9fafb; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 32px 0 8px; border-bottom: 1px solid #e5e7eb; }
p.meta, p.help { color: #4b5563; margin: 4px 0 12px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 16px; }
.card b { display: block; font-size: 1.4rem; }
.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; margin: 8px 0; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 0.9rem; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.leads td:last-child { width: 50%; font-size: 0.8rem; }
table.leads td:nth-child(2) { min-width: 200px; overflow-wrap: anywhere; }
ul.notes li { color: #92400e; }
""".replace("FONT", FONT)


@functools.cache
def plotly_js() -> str:
    """plotly.js as shipped inside the plotly package (read once per process)."""
    return str(get_plotlyjs())


def report_page(data: ReportData, *, web: bool = False) -> str:
    """The whole page: head with plotly.js, then every section the data has (`web`: for
    `/report`, whose hints name its parameters rather than the command's options)."""
    parts = [
        _header(data),
        _section(
            "Score distribution",
            "How many contacts have each score, in whole points: the total and each "
            "dimension. Disqualified contacts are counted at their points.",
            _chart("chart-scores", scores_figure(data)),
        ),
    ]
    if data.funnel:
        parts.append(
            _section(
                "Stage funnel",
                "Contacts on each stage or above it (disqualified ones included: the first "
                "stage holds every contact with a stage), and the share of the stage below "
                "that reached it.",
                _chart("chart-funnel", funnel_figure(data)) + _funnel_table(data),
            )
        )
    parts.append(
        _section(
            f"Top {len(data.top)} leads",
            "Ranked as a rep's view ranks them, with the reasons the CRM field shows.",
            _leads_table(data),
        )
    )
    parts.append(
        _section(
            "What each rule gives",
            "Points each rule gave in all (after decay and its cap), and how many contacts "
            "it fired for.",
            _chart("chart-rules", rules_figure(data)),
        )
    )
    if data.grades is not None:
        grid = data.grades
        parts.append(
            _section(
                f"Grades against {grid.dimension}",
                f"Contacts by grade (from {grid.dimension}) and by their {grid.against}.",
                _chart("chart-grades", grades_figure(data)),
            )
        )
    parts.append(_outcomes_section(data, web))
    if data.from_store:
        parts.append(_store_section(data))
        parts.append(_handover_section(data))
    body = "\n".join(parts)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{escape(data.title)}</title>\n<style>{STYLE}</style>\n"
        f"<script>{plotly_js()}</script>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        "</body>\n</html>\n"
    )


# -- the page's parts ------------------------------------------------------------------------


def _header(data: ReportData) -> str:
    cards = [
        ("contacts", f"{data.contacts:,}"),
        ("leads (not customers, not disqualified)", f"{data.leads:,}"),
        ("disqualified", f"{data.disqualified:,}"),
    ]
    if data.outcomes is not None:
        tested = data.outcomes.backtest
        cards.append(("converted", f"{tested.converted:,} ({percent(tested.base_rate)})"))
        cards.append(("ROC AUC", _interval(tested.auc.value, tested.auc.low, tested.auc.high)))
    shown = "".join(f"<div class='card'>{escape(n)}<b>{escape(v)}</b></div>" for n, v in cards)
    notes = "".join(f"<li>{escape(note)}</li>" for note in data.notes)
    when = f", scored as of {escape(data.made_at)}" if data.made_at else ""
    return (
        f"<h1>{escape(data.title)}</h1>\n"
        f"<p class='meta'>{escape(data.source)}{when}</p>\n"
        f"<div class='cards'>{shown}</div>\n" + (f"<ul class='notes'>{notes}</ul>" if notes else "")
    )


def _section(title: str, help_text: str, inner: str) -> str:
    return (
        f"<section>\n<h2>{escape(title)}</h2>\n<p class='help'>{escape(help_text)}</p>\n"
        f"{inner}\n</section>"
    )


def _chart(div_id: str, drawn: go.Figure) -> str:
    html: str = drawn.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=CONFIG)
    return f"<div class='chart' id='{div_id}-box'>{html}</div>"


def _table(
    head: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]], kind: str = "plain"
) -> str:
    """A table of escaped cells; a cell marked True is a number (right-aligned)."""
    top = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if n else ''}>{escape(text)}</td>" for text, n in row)
        + "</tr>"
        for row in rows
    )
    return f"<table class='{kind}'><thead><tr>{top}</tr></thead><tbody>{body}</tbody></table>"


def _funnel_table(data: ReportData) -> str:
    rows = [
        [
            (step.stage, False),
            (f"{step.at:,}", True),
            (f"{step.reached:,}", True),
            ("" if step.conversion is None else percent(step.conversion), True),
        ]
        for step in data.funnel
    ]
    return _table(["stage", "on it now", "on it or above", "from the stage below"], rows)


def _leads_table(data: ReportData) -> str:
    if not data.top:
        return "<p>No contacts.</p>"
    names = list(data.top[0].dimensions)
    labels = {d.name: d.label for d in data.distributions}
    rows = [
        [
            (str(lead.rank), True),
            (lead.email or lead.id, False),
            ("DQ" if lead.disqualified else str(lead.score), True),
            *((str(lead.dimensions[n]), True) for n in names),
            (lead.grade or "", False),
            (lead.stage or "", False),
            (lead.reasons, False),
        ]
        for lead in data.top
    ]
    heads = [labels.get(n, n) for n in names]
    return _table(["#", "contact", "score", *heads, "grade", "stage", "reasons"], rows, "leads")


def _outcomes_section(data: ReportData, web: bool) -> str:
    outcomes = data.outcomes
    if outcomes is None and data.unmeasured:
        return _section("Against outcomes", data.unmeasured[0].upper() + data.unmeasured[1:], "")
    if outcomes is None:
        how = (
            "outcome=won, customer or stage:NAME in the address, with within_days=N (what "
            "the store recorded in the N days after the score date, 90 if not given)"
            if web
            else "--outcome won, customer or stage:NAME (what the store recorded in the "
            "--within-days after the score date)"
            if data.from_store
            else "--outcome COLUMN (1/true/yes converted, 0/false/no not)"
        )
        return _section(
            "Against outcomes",
            f"No outcomes were given: pass {how} for the lift per decile, ROC and calibration "
            "curves, and conversion per stage and grade.",
            "",
        )
    tested = outcomes.backtest
    auc, ap = tested.auc, tested.average_precision
    charts = (
        _chart("chart-lift", lift_figure(outcomes))
        + "<div class='pair'>"
        + _chart("chart-roc", roc_figure(outcomes))
        + _chart("chart-calibration", calibration_figure(outcomes))
        + "</div>"
        + _chart("chart-conversion", conversion_figure(outcomes))
    )
    return _section(
        f"Against outcomes ({outcomes.outcome})",
        f"{tested.converted:,} of {counted(tested.contacts, 'contact')} converted "
        f"({percent(tested.base_rate)}). ROC AUC "
        f"{_interval(auc.value, auc.low, auc.high)}, average precision "
        f"{_interval(ap.value, ap.low, ap.high)}"
        f" (95 % bootstrap intervals, {tested.resamples} resamples); "
        f"{percent(tested.tied_share)} of contacts share their score with another.",
        charts,
    )


def _store_section(data: ReportData) -> str:
    inner = (
        "<p>No score history yet.</p>"
        if data.movement is None
        else _chart("chart-movement", movement_figure(data))
    )
    return _section(
        "Score movement over time",
        "The written scores the store recorded at each sync: median and 90th percentile "
        "of everyone scored by then, and how many scores rose and fell.",
        inner,
    )


def _handover_section(data: ReportData) -> str:
    title = "Hand-over queue"
    found = data.handovers
    if found is None:
        return _section(
            title,
            "The rules set no `capacity`: every lead that reaches a sales stage is handed "
            "over at once, and nobody waits.",
            "",
        )
    per = f" per {found.by}" if found.by else ""
    if not found.waiting_total and not any(map(any, found.handed)):
        if found.handed_ever:
            return _section(
                title,
                f"No lead was handed over ({found.stage}) in the {len(found.weeks)} weeks "
                f"drawn, and nobody waits: sales takes {found.per_week} a week{per}.",
                "",
            )
        return _section(
            title,
            f"No lead has reached the hand-over stage ({found.stage}) yet: sales takes "
            f"{found.per_week} a week{per}.",
            "",
        )
    waiting = (
        f"the {counted(found.waiting_total, 'lead')} waiting"
        if found.waiting_total
        else ("no lead waiting")
    )
    oldest = ""
    if found.oldest_wait is not None:
        oldest = f"; the oldest has waited {waited(found.oldest_wait)}"
    lasts = [(t, last) for t, last in zip(found.teams, found.last, strict=True) if last]
    if not lasts:
        last = "Nobody has been handed over yet"
    elif found.by is None:
        last = f"The score of the last lead handed over: {lasts[0][1][0]} (in {lasts[0][1][1]}), "
        last += "drawn dashed"
    else:
        each = ", ".join(f"{team} {score} (in {week})" for team, (score, week) in lasts)
        last = f"The score of the last lead handed over per {found.by}: {each}, drawn dashed"
    return _section(
        title,
        f"Leads given the hand-over stage ({found.stage}) each week{per}, against the "
        f"capacity of {found.per_week} a week{per}, and {waiting} for a place now, by "
        f"score{oldest}. {last}.",
        _chart("chart-handover", handover_figure(data)),
    )


def _interval(value: float, low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return figure(value)
    return f"{figure(value)} ({figure(low)} to {figure(high)})"
