"""The report's charts: one Plotly figure (`plotly.graph_objects`) per chart of a
`ReportData`, in one light look (`template`). Text from the data is HTML-escaped before
it reaches a figure: Plotly reads a subset of HTML in its labels, and shows escaped
text as written. `sync.report_html` lays them out on the page."""

from __future__ import annotations

import functools
import itertools
import math
from datetime import datetime
from html import escape
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sync.backtest_report import percent
from sync.report_data import Outcomes, ReportData, step_for

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
COLOURS = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563"]


@functools.cache
def template() -> go.layout.Template:
    """The charts' look: a few layout values. Plotly's own templates style every trace
    type and take seconds to load and copy into each figure; this takes milliseconds."""
    axis = {"gridcolor": "#e5e7eb", "linecolor": "#9ca3af", "zerolinecolor": "#d1d5db"}
    return go.layout.Template(
        layout={
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "colorway": COLOURS,
            "font": {"family": FONT, "size": 12, "color": "#1f2937"},
            "xaxis": axis,
            "yaxis": axis,
            "hoverlabel": {"font": {"family": FONT}},
        }
    )


def _layout(figure: go.Figure, height: int, **more: Any) -> go.Figure:
    more.setdefault("margin", {"l": 60, "r": 20, "t": 40, "b": 50})
    figure.update_layout(template=template(), height=height, **more)
    return figure


def whole_bins(edges: list[float]) -> tuple[list[float], float, list[str]]:
    """Bars of whole-point bins [a, b): each centred on the points it holds (a whole
    point's bar on that point, so a line at a score falls on its bar), their width, and
    the points each holds as the hover names them ("41", "40 to 44")."""
    width = edges[1] - edges[0]
    middles = [a + (b - a - 1) / 2 for a, b in itertools.pairwise(edges)]
    shown = [
        f"{a:g}" if b - a == 1 else f"{a:g} to {b - 1:g}" for a, b in itertools.pairwise(edges)
    ]
    return middles, width, shown


def scores_figure(data: ReportData) -> go.Figure:
    shown = data.distributions
    cols = 2
    rows = max(1, math.ceil(len(shown) / cols))
    figure = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[escape(d.label) for d in shown],
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    for index, found in enumerate(shown):
        middles, width, points = whole_bins(found.edges)
        at = {"row": index // cols + 1, "col": index % cols + 1}
        figure.add_trace(
            go.Bar(
                x=middles,
                y=found.counts,
                width=[width * 0.9] * len(middles),
                marker_color=COLOURS[index % len(COLOURS)],
                name=escape(found.label),
                customdata=points,
                hovertemplate="%{customdata} points: %{y} contacts<extra></extra>",
            ),
            **at,
        )
        figure.update_xaxes(title_text="points", title_standoff=4, **at)
        figure.update_yaxes(title_text="contacts", **at)
    return _layout(figure, 270 * rows + 60, showlegend=False)


def funnel_figure(data: ReportData) -> go.Figure:
    steps = data.funnel
    figure = go.Figure(
        go.Funnel(
            y=[escape(s.stage) for s in steps],
            x=[s.reached for s in steps],
            textinfo="value+percent previous",
            marker={"color": COLOURS[0]},
            hovertemplate="%{y}: %{x} on it or above<extra></extra>",
        )
    )
    figure.update_yaxes(automargin=True)  # a long stage name widens the margin, is not cut
    return _layout(figure, 80 + 48 * len(steps), margin={"l": 20, "r": 20, "t": 20, "b": 20})


def rules_figure(data: ReportData) -> go.Figure:
    """Per rule, the points it gave (left) and the contacts it fired for (right)."""
    shares = data.rules
    labels = [s.label for s in shares]
    if len(set(labels)) < len(labels):
        labels = [f"{s.label} [{s.id}]" for s in shares]
    labels = [escape(label) for label in labels]
    figure = make_subplots(
        rows=1, cols=2, shared_yaxes=True, column_widths=[0.62, 0.38], horizontal_spacing=0.03,
        subplot_titles=["points given, summed over contacts", "contacts it fired for"],
    )  # fmt: skip
    dimensions = list(dict.fromkeys(s.dimension for s in shares))
    for index, dimension in enumerate(dimensions):
        mine = [i for i, s in enumerate(shares) if s.dimension == dimension]
        colour = COLOURS[index % len(COLOURS)]
        for col, values, unit in (
            (1, [round(shares[i].points, 1) for i in mine], "points"),
            (2, [shares[i].people for i in mine], "contacts"),
        ):
            figure.add_trace(
                go.Bar(
                    orientation="h",
                    y=[labels[i] for i in mine],
                    x=values,
                    name=escape(dimension),
                    legendgroup=dimension,
                    showlegend=col == 1,
                    marker_color=colour,
                    hovertemplate=f"%{{y}}: %{{x}} {unit}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    figure.update_yaxes(
        categoryorder="array", categoryarray=labels, autorange="reversed", automargin=True
    )  # a long rule label widens the margin rather than being cut
    return _layout(
        figure,
        140 + 22 * len(shares),
        margin={"l": 20, "r": 20, "t": 60, "b": 60},
        barmode="overlay",
        legend={"orientation": "h", "y": 0, "yanchor": "bottom", "yref": "container"},
    )


def grades_figure(data: ReportData) -> go.Figure:
    grid = data.grades
    assert grid is not None
    figure = go.Figure(
        go.Heatmap(
            z=grid.counts,
            x=[escape(b) for b in grid.bands],
            y=[escape(g) for g in grid.grades],
            text=[[f"{c:,}" for c in row] for row in grid.counts],
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="grade %{y}, %{x}: %{z} contacts<extra></extra>",
        )
    )
    figure.update_yaxes(autorange="reversed", title_text=f"grade ({escape(grid.dimension)})")
    figure.update_xaxes(title_text=escape(grid.against), type="category")
    return _layout(figure, 120 + 50 * len(grid.grades))


def lift_figure(outcomes: Outcomes) -> go.Figure:
    deciles = outcomes.backtest.deciles
    figure = go.Figure(
        go.Bar(
            x=[f"{d.decile}" for d in deciles],
            y=[round(d.lift, 3) for d in deciles],
            text=[percent(d.rate) for d in deciles],
            textposition="outside",
            marker_color=COLOURS[0],
            customdata=[[d.min_score, d.max_score, d.contacts] for d in deciles],
            hovertemplate="decile %{x}: lift %{y} (%{text} converted; scores "
            "%{customdata[0]} to %{customdata[1]}; %{customdata[2]} contacts)<extra></extra>",
        )
    )
    figure.add_hline(y=1, line_dash="dash", line_color="#6b7280")
    figure.update_xaxes(title_text="decile by score (1: the best tenth)", type="category")
    figure.update_yaxes(title_text="lift (conversion over the base rate)")
    return _layout(figure, 340, title_text="Lift per decile")


def roc_figure(outcomes: Outcomes) -> go.Figure:
    roc = outcomes.roc
    figure = go.Figure(
        [
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                name="chance",
                line={"dash": "dash", "color": "#9ca3af"},
                hoverinfo="skip",
            ),
            go.Scatter(
                x=roc.false_positive_rate,
                y=roc.true_positive_rate,
                mode="lines",
                name=f"scores (AUC {outcomes.backtest.auc.value:.3f})",
                line={"color": COLOURS[0], "width": 3},
                customdata=[None, *roc.scores],
                hovertemplate="score ≥ %{customdata}: %{y:.1%} of converted, %{x:.1%} of the "
                "others<extra></extra>",
            ),
        ]
    )
    figure.update_xaxes(title_text="false positive rate", range=[0, 1])
    figure.update_yaxes(title_text="true positive rate", range=[0, 1.02])
    return _layout(figure, 380, title_text="ROC curve", legend={"x": 0.4, "y": 0.08})


def calibration_figure(outcomes: Outcomes) -> go.Figure:
    bins = outcomes.backtest.calibration
    figure = go.Figure(
        [
            go.Scatter(
                x=[(b.low + b.high) / 2 for b in bins],
                y=[b.rate for b in bins],
                mode="lines+markers",
                name="conversion rate",
                marker={"size": 9, "color": COLOURS[1]},
                customdata=[[b.low, b.high, b.contacts] for b in bins],
                hovertemplate="scores %{customdata[0]} to %{customdata[1]}: %{y:.1%} of "
                "%{customdata[2]} converted<extra></extra>",
            )
        ]
    )
    figure.add_hline(y=outcomes.backtest.base_rate, line_dash="dash", line_color="#6b7280")
    figure.update_xaxes(title_text="score (middle of the bin)")
    figure.update_yaxes(title_text="converted", tickformat=".0%", rangemode="tozero")
    return _layout(figure, 380, title_text="Calibration: conversion by score", showlegend=False)


def conversion_figure(outcomes: Outcomes) -> go.Figure:
    tested = outcomes.backtest
    figure = make_subplots(
        rows=1, cols=2, subplot_titles=["conversion per stage", "conversion per grade"]
    )
    for col, groups in ((1, tested.stages), (2, tested.grades)):
        figure.add_trace(
            go.Bar(
                x=[_wrapped(escape(g.name or "none")) for g in groups],
                y=[0.0 if math.isnan(g.rate) else g.rate for g in groups],
                text=[f"{g.converted:,} of {g.contacts:,}" for g in groups],
                textposition="outside",
                marker_color=COLOURS[col + 1],
                hovertemplate="%{x}: %{y:.1%} (%{text})<extra></extra>",
            ),
            row=1,
            col=col,
        )
    figure.update_yaxes(tickformat=".0%", rangemode="tozero")
    figure.update_yaxes(title_text="converted", row=1, col=1)
    figure.update_xaxes(type="category", tickangle=0)
    return _layout(figure, 380, showlegend=False, margin={"l": 60, "r": 20, "t": 40, "b": 70})


def _wrapped(label: str, width: int = 12) -> str:
    """A long tick label on lines of about `width` characters (escaped text in, Plotly's
    line breaks out), so that it is neither cut nor turned."""
    lines: list[str] = []
    for word in label.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


def movement_figure(data: ReportData) -> go.Figure:
    moved = data.movement
    assert moved is not None
    times = [datetime.fromisoformat(m.replace("Z", "+00:00")).timestamp() for m in moved.moments]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # bars a third of the shortest gap wide (milliseconds on a time axis), not Plotly's 80 %
    width = [1000 * min(gaps) / 3] * len(times) if gaps else None
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.6, 0.4])
    for name, values, colour in (
        ("median", moved.median, COLOURS[0]),
        ("90th percentile", moved.upper, COLOURS[3]),
    ):
        figure.add_trace(
            go.Scatter(
                x=moved.moments,
                y=values,
                mode="lines+markers",
                name=name,
                line={"color": colour},
                customdata=moved.people,
                hovertemplate="%{x} UTC: %{y} (%{customdata} persons)<extra>" + name + "</extra>",
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Bar(x=moved.moments, y=moved.rose, name="rose", marker_color=COLOURS[1], width=width),
        row=2,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=moved.moments,
            y=[-n for n in moved.fell],
            name="fell",
            marker_color=COLOURS[4],
            width=width,
        ),
        row=2,
        col=1,
    )
    figure.update_yaxes(title_text="written score", row=1, col=1)
    figure.update_yaxes(title_text="scores rose / fell", row=2, col=1)
    figure.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return _layout(figure, 460, barmode="relative")


def handover_figure(data: ReportData) -> go.Figure:
    """Leads handed over per week and `by` value against the capacity (left); the leads
    waiting now by score, stacked by `by` value, with the last hand-over's score (right)."""
    found = data.handovers
    assert found is not None
    per = f" per {escape(found.by)}" if found.by else ""
    figure = make_subplots(
        rows=1, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.1,
        subplot_titles=[f"handed over per week (capacity {found.per_week}{per})",
                        f"waiting now: {found.waiting_total:,}, by score"],
    )  # fmt: skip
    middles, width, points = whole_bins(found.edges)
    below = [0] * len(middles)
    for index, team in enumerate(found.teams):
        name, colour = escape(team), COLOURS[index % len(COLOURS)]
        figure.add_trace(
            go.Bar(x=found.weeks, y=found.handed[index], name=name, legendgroup=name,
                   marker_color=colour, showlegend=len(found.teams) > 1,
                   hovertemplate="%{x}: %{y} handed over<extra>" + name + "</extra>"),
            row=1, col=1,
        )  # fmt: skip
        figure.add_trace(
            go.Bar(x=middles, y=found.waiting[index], base=below,
                   width=[width * 0.9] * len(middles), offsetgroup="waiting", name=name,
                   legendgroup=name, marker_color=colour, showlegend=False, customdata=points,
                   hovertemplate="score %{customdata}: %{y} waiting<extra>" + name + "</extra>"),
            row=1, col=2,
        )  # fmt: skip
        below = [b + n for b, n in zip(below, found.waiting[index], strict=True)]
    figure.add_hline(
        y=found.per_week, line_dash="dash", line_color="#6b7280", row=1, col=1,
        annotation_text=f"capacity {found.per_week}", annotation_position="top left",
    )  # fmt: skip
    for index, (team, last) in enumerate(zip(found.teams, found.last, strict=True)):
        if last is not None:
            shown = f"{escape(team)}: {last[0]}" if found.by else f"last handed over: {last[0]}"
            figure.add_vline(
                x=last[0], line_dash="dash", line_color=COLOURS[index % len(COLOURS)], row=1,
                col=2, annotation_text=shown, annotation_position="top right",
            )  # fmt: skip
    handed = max((max(row) for row in found.handed if row), default=0)
    for col, title, tallest in (
        (1, "leads handed over", max(handed, found.per_week)),
        (2, "leads waiting", max(below, default=0)),
    ):  # counts: whole ticks
        figure.update_yaxes(title_text=title, rangemode="tozero", dtick=step_for(0, tallest, 6),
                            row=1, col=col)  # fmt: skip
    slots = max(len(found.weeks), 4)  # a week or two: bars of a usual width, centred
    middle = (len(found.weeks) - 1) / 2
    figure.update_xaxes(title_text="ISO week", type="category", row=1, col=1,
                        range=[middle - slots / 2, middle + slots / 2])  # fmt: skip
    figure.update_xaxes(title_text="score (whole points)", row=1, col=2)
    return _layout(
        figure, 380, barmode="group", margin={"l": 60, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": 0, "yanchor": "bottom", "yref": "container"},
    )  # fmt: skip
