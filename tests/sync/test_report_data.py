"""The report's numbers (`sync.report_data`) and its page (`sync.report_html`): bins,
funnel, rule shares, grades, history and the backtest's own figures; text escaped."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import Sandbox
from scoring import ActivityFrame, ContactFrame, backtest_of, load_rules, roc_of, score
from scoring.exclude_rules import Exclusion
from sync import StateStore, SyncOptions
from sync.fields import DISQUALIFIED_SCORE
from sync.history import score_rows
from sync.report_data import (
    binned,
    report_data,
    score_movement,
    step_for,
    store_report,
)
from sync.report_html import report_page
from tests.helpers import NOW, act, person, rules
from tests.sync.test_sync_hubspot import RULES as SYNC_RULES
from tests.sync.test_sync_hubspot import make_sync

if TYPE_CHECKING:
    from sync.app import Leadscore

RULES = rules(
    """
    dimensions: {fit: {label: fit}, activity: {label: activity}}
    rules:
      - {id: vp, label: "<b>VP</b> & co", contact: {title: VP}, points: 40}
      - {id: big, contact: {employees: {gte: 500}}, points: 30}
      - {id: visit, activity: page_view, points: 10, cap: 50}
      - {id: spam, activity: email_spam_report, points: -5, disqualify: true, dimension: activity}
      - {id: never, contact: {title: Nobody}, points: 5}
    stages:
      ladder:
        - name: Prospect
        - name: Lead
          when: {min: {total: 20}}
        - name: MQL
          when: {min: {total: 60}}
    grades:
      dimension: fit
      bands: [{grade: A, min: 60}, {grade: B, min: 30}, {grade: C}]
    """
)


def batch_of(n: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    people, activities = [], []
    for i in range(n):
        title = "VP" if rng.random() < 0.3 else "Analyst"
        email = f"p{i}@acme.io" if i else "<script>alert(1)</script>@evil.io"
        people.append(person(f"c{i}", email, title=title, employees=int(rng.integers(1, 2000))))
        for _ in range(int(rng.integers(0, 7))):
            activities.append(act("page_view", float(rng.integers(0, 20)), f"c{i}"))
        if i % 17 == 3:
            activities.append(act("email_spam_report", 1.0, f"c{i}"))
    frame = ContactFrame.from_records(people)
    return score(RULES, frame, ActivityFrame.from_records(activities, frame.ids), NOW)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-300, 3000), min_size=1, max_size=300), st.integers(1, 30))
def test_bins_are_round_hold_every_value_and_count_each_once(values: list[int], bins: int) -> None:
    array = np.array(values, dtype=float)
    edges, counts = binned(array, bins)
    step = edges[1] - edges[0]
    assert sum(counts) == len(values) and len(edges) == len(counts) + 1
    assert np.allclose(np.diff(edges), step)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 9) in (1.0, 2.0, 5.0)
    assert edges[0] <= array.min() and array.max() < edges[-1]
    for low, high, count in zip(edges, edges[1:], counts, strict=False):
        assert count == int(np.count_nonzero((array >= low) & (array < high)))
    assert len(counts) <= 2 * bins + 2  # about `bins`, never a bar per point


def test_a_step_is_one_two_or_five_times_a_power_of_ten() -> None:
    assert step_for(0, 100, 20) == 5
    assert step_for(0, 7, 20) == 1
    assert step_for(-40, 1960, 20) == 100


def test_funnel_rules_grades_and_leads_are_the_batchs() -> None:
    batch = batch_of(120)
    data = report_data(batch, source="test", made_at=NOW, top=10)
    codes = np.asarray(batch.stage_codes)
    assert [s.stage for s in data.funnel] == ["Prospect", "Lead", "MQL"]
    assert [s.at for s in data.funnel] == [int(np.sum(codes == k)) for k in range(3)]
    assert [s.reached for s in data.funnel] == [int(np.sum(codes >= k)) for k in range(3)]
    assert data.funnel[0].conversion is None
    for below, step in zip(data.funnel, data.funnel[1:], strict=False):
        assert step.conversion == pytest.approx(step.reached / below.reached)
    shares = {s.id: s for s in data.rules}
    for index, rule in enumerate(batch.rules.rules):
        points, counts = batch.rule_hits[index].dense(len(batch))
        assert shares[rule.id].people == int(np.count_nonzero(counts))
        assert shares[rule.id].points == pytest.approx(points.sum())
    assert shares["never"].people == 0 and data.rules[-1].id == "never"
    grid = data.grades
    assert grid is not None and grid.grades == ["A", "B", "C"]
    grades = np.asarray(batch.grade_codes)
    assert [sum(row) for row in grid.counts] == [int(np.sum(grades == k)) for k in range(3)]
    ranked = batch.ranking()[:10].tolist()
    assert [lead.id for lead in data.top] == [str(batch.contact_ids[r]) for r in ranked]
    assert data.top[0].reasons == batch.reasons_text(ranked[0])
    assert data.disqualified == int(batch.disqualified.sum()) > 0
    assert sum(data.distributions[0].counts) == len(batch)
    assert [d.name for d in data.distributions] == ["total", "fit", "activity"]


def test_outcomes_are_the_backtests_own_figures() -> None:
    batch = batch_of(200, seed=3)
    converted = (batch.total + np.random.default_rng(0).normal(0, 20, len(batch))) > 60
    data = report_data(batch, source="t", made_at=NOW, outcome=("won", converted))
    assert data.outcomes is not None
    assert data.outcomes.backtest == backtest_of(batch, converted)
    assert data.outcomes.roc == roc_of(batch, converted)


def test_score_movement_by_hand() -> None:
    t0, t1 = 1_790_000_000.0, 1_790_003_600.0
    rows = [(1, t0, 10), (2, t0, 20), (1, t1, 15), (2, t1, 5), (3, t1, DISQUALIFIED_SCORE)]
    moved = score_movement(rows)
    assert moved is not None
    assert moved.moments == ["2026-09-21T14:13:20Z", "2026-09-21T15:13:20Z"]
    assert moved.people == [2, 2]  # the disqualified person is not counted
    assert moved.median == [15.0, 10.0]
    assert (moved.rose, moved.fell) == ([0, 1], [0, 1])
    assert score_movement([]) is None


def test_many_moments_are_drawn_a_day_at_a_time() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC).timestamp()
    rows = [(p, start + 3600.0 * hour, hour + p) for hour in range(200) for p in (1, 2)]
    moved = score_movement(rows)
    assert moved is not None
    assert len(moved.moments) == 9 and moved.moments[0] == "2026-10-01T00:00:00Z"
    assert moved.rose[0] == 46 and sum(moved.fell) == 0  # each hour after the first rose


def test_a_store_report_says_what_it_lacks() -> None:
    data = report_data(batch_of(10), source="s", made_at=NOW, history=[])
    assert data.movement is None and data.handovers is None
    assert any("no score history" in note for note in data.notes)


def test_the_page_escapes_every_text_from_the_data() -> None:
    batch = batch_of(60)
    page = report_page(report_data(batch, source="<i>src</i>", made_at=NOW, history=[]))
    head, _, body = page.partition("</head>")
    assert page.count("<script>") == 1 + len(re.findall(r"class='chart'", body))
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;@evil.io" in body
    assert "<b>VP</b>" not in body and "&lt;i&gt;src&lt;/i&gt;" in body
    assert "Plotly.newPlot" not in head and "https://" not in body.replace("https://plot.ly", "")
    for chart in ("chart-scores", "chart-funnel", "chart-rules", "chart-grades"):
        assert f'id="{chart}"' in body
    assert "chart-roc" not in body and "--outcome won, customer or stage:NAME" in body
    assert "The rules set no `capacity`" in body and "chart-handover" not in body


def test_a_store_report_draws_no_score_history_of_the_people_the_rules_exclude(
    store: StateStore,
) -> None:
    with Sandbox(people=30, seed=4) as box:
        live = load_rules(SYNC_RULES)
        at = box.now() + timedelta(hours=1)
        make_sync(box, live, store, at=at).run(SyncOptions(full=True))
        with store.engine.connect() as connection:
            rows = score_rows(connection)
        contacts = store.load_people().contacts
        objecting = {int(c.id): c.email for c in contacts if c.email}
        objecting = dict(list(objecting.items())[:8])  # they object after that sync
        excluding = live.model_copy(
            update={"exclude": Exclusion(emails=[e for e in objecting.values() if e])}
        )
        job = make_sync(box, excluding, store, at=at)
        data = store_report(cast("Leadscore", SimpleNamespace(job=job, store=store)), made_at=at)

    assert any(person in objecting for person, _, _ in rows)  # they had scores kept
    assert data.contacts == len(contacts) - len(objecting)
    kept = [row for row in rows if row[0] not in objecting]
    assert data.movement == score_movement(kept)
    assert data.movement != score_movement(rows)
