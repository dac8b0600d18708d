"""A backtest as a person reads it on a terminal: plain text within 80 columns."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the backtest module is not loaded by what only needs `WIDTH`
    from scoring import Backtest

WIDTH = 80


def percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value * 100:.1f} %"


def figure(value: float, digits: int = 3) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def backtest_lines(report: Backtest, title: str, moment: str) -> list[str]:
    """The report's lines, none longer than `WIDTH`."""
    auc, ap = report.auc, report.average_precision
    lines = [
        *_wrapped(
            f"Backtest of {title}: {report.contacts:,} contacts, {report.converted:,} "
            f"converted ({percent(report.base_rate)}), each scored as of {moment}"
        ),
        "",
        f"ROC AUC            {figure(auc.value)}  (95 % interval {figure(auc.low)} to "
        f"{figure(auc.high)})",
        f"Average precision  {figure(ap.value)}  (95 % interval {figure(ap.low)} to "
        f"{figure(ap.high)})",
        f"                   bootstrap of {report.resamples} resamples, seed {report.seed}",
        f"Tied scores        {percent(report.tied_share)} of contacts share their score "
        "with another",
        "",
        f"{'decile':>6}  {'contacts':>9}  {'converted':>9}  {'rate':>7}  {'lift':>5}  scores",
    ]
    for d in report.deciles:
        lines.append(
            f"{d.decile:>6}  {d.contacts:>9,}  {d.converted:>9,}  {percent(d.rate):>7}  "
            f"{figure(d.lift, 2):>5}  {_span(d.min_score, d.max_score)}"
        )
    if report.hand_over is not None:
        h = report.hand_over
        lines += [
            "",
            *_wrapped(
                f"Hand over {h.asked:,}: a score of {h.threshold} or more hands over "
                f"{h.handed:,} leads, {h.converted:,} of them converted ({percent(h.rate)}, "
                f"lift {figure(h.lift, 2)}): {percent(h.captured)} of all conversions"
            ),
        ]
    lines += ["", "Calibration: the conversion rate of a score", ""]
    lines += _table(
        "score",
        [(_span(b.low, b.high), b.contacts, b.converted, b.rate) for b in report.calibration],
    )
    for name, groups in (("stage", report.stages), ("grade", report.grades)):
        if groups:
            rows = [(g.name or "(none)", g.contacts, g.converted, g.rate) for g in groups]
            lines += ["", *_table(name, rows)]
    if report.leaks:
        lines += ["", "Leakage: these columns may hold the outcome (filled in after the fact):"]
        for leak in report.leaks:
            lines += _wrapped(f"  {leak.column!r}: {leak.reason}", indent="    ")
    for note in report.notes:
        lines += ["", *_wrapped(f"note: {note}", indent="  ")]
    return lines


def _span(low: int, high: int) -> str:
    return str(low) if low == high else f"{low} to {high}"


def _table(head: str, rows: Sequence[tuple[str, int, int, float]]) -> list[str]:
    width = min(max([len(head), *(len(r[0]) for r in rows)]), 40)
    lines = [f"{head:<{width}}  {'contacts':>9}  {'converted':>9}  {'rate':>7}"]
    for name, contacts, converted, rate in rows:
        shown = name if len(name) <= width else name[: width - 1] + "…"
        lines.append(f"{shown:<{width}}  {contacts:>9,}  {converted:>9,}  {percent(rate):>7}")
    return lines


def _wrapped(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def comparison_lines(named: Sequence[tuple[str, Backtest]]) -> list[str]:
    """Backtests of several rule files on the same contacts, one column each."""
    width = 20

    def row(label: str, cells: Sequence[str]) -> str:
        return f"{label:<19}" + "".join(f"{cell:>{width}}" for cell in cells)

    reports = [report for _, report in named]
    lines = [row("", [name[: width - 2] for name, _ in named])]
    lines.append(
        row(
            "ROC AUC",
            [
                f"{figure(r.auc.value)} ({figure(r.auc.low, 2)}-{figure(r.auc.high, 2)})"
                for r in reports
            ],
        )
    )
    lines.append(row("Average precision", [figure(r.average_precision.value) for r in reports]))
    lines.append(row("Tied scores", [percent(r.tied_share) for r in reports]))
    lines.append(
        row(
            "Top decile lift", [figure(r.deciles[0].lift, 2) if r.deciles else "-" for r in reports]
        )
    )
    if all(r.hand_over is not None for r in reports):
        cells = []
        for r in reports:
            h = r.hand_over
            assert h is not None
            cells.append(f">= {h.threshold}: {percent(h.captured)}")
        lines.append(row(f"Hand over {reports[0].hand_over.asked:,}", cells))  # type: ignore[union-attr]
        lines.append(f"{'':<19}(score threshold: share of all conversions handed over)")
    return lines
