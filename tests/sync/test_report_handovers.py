"""The report's hand-over queue (`sync.report_data.handovers_of`): weeks and `by` values
against the capacity, the waiting leads by score, the oldest wait and the threshold, by
hand and against the queue `sync.capacity` decides and `leadscore status` prints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scoring import parse_rules
from sync.capacity import waited
from sync.handover_schema import QueueRows, queue_rows
from sync.report_data import handovers_of, report_data
from sync.report_html import report_page
from sync.store import StateStore
from tests.sync.test_capacity import MONDAY, batch_of, decide, rules_of

DAY = 86_400.0


def test_weeks_teams_waiting_and_threshold_by_hand() -> None:
    at = MONDAY.timestamp()
    rows = QueueRows(
        counts=[
            ("2026-W48", "ann", 3), ("2026-W48", "bob", 1),
            ("2026-W49", "", 1), ("2026-W49", "ann", 2), ("2026-W49", "bob", 0),
        ],
        waiting=[
            (10, "ann", 99.0, at - 5 * DAY),  # excluded by the rules: left out
            (7, "ann", 61.4, at - 2 * DAY),
            (8, "bob", 55.0, at - 3600.0),
            (9, "", 40.6, at - DAY),
        ],
        last={"ann": (62.5, "2026-W49"), "bob": (70.0, "2026-W48"), "cy": (80.0, "2026-W30")},
    )  # fmt: skip
    found = handovers_of(rows, rules_of(per_week=3, by="owner"), at, left_out={10})
    assert found is not None
    assert (found.stage, found.per_week, found.by) == ("SQL", 3, "owner")
    assert found.weeks == ["2026-W48", "2026-W49"]
    assert found.teams == ["(no owner)", "ann", "bob"]
    assert found.handed == [[0, 1], [3, 2], [1, 0]]
    assert found.waiting_total == 3 and found.oldest_wait == 2 * DAY
    assert found.last == [None, (63, "2026-W49"), (70, "2026-W48")]  # whole points; cy gone
    edges, counts = found.edges, found.waiting
    assert [sum(team) for team in counts] == [1, 1, 1]
    for team, score in ((0, 41), (1, 61), (2, 55)):  # each in the bin holding its score
        (index,) = [i for i, n in enumerate(counts[team]) if n]
        assert edges[index] <= score < edges[index + 1]


def test_only_the_latest_weeks_are_drawn_and_without_by_one_team() -> None:
    counts = [(f"2026-W{week:02d}", "", week % 4) for week in range(30, 50)]
    found = handovers_of(QueueRows(counts, [], {}), rules_of(per_week=5), MONDAY.timestamp())
    assert found is not None
    assert found.weeks == [f"2026-W{week:02d}" for week in range(38, 50)]
    assert found.teams == ["all leads"] and found.handed == [[week % 4 for week in range(38, 50)]]
    assert (found.waiting_total, found.oldest_wait, found.last) == (0, None, [None])
    assert found.waiting == [[0]]


def test_rules_without_capacity_have_no_queue() -> None:
    rules = parse_rules("rules: [{id: a, contact: {c: 1}, points: 1}]\n", "r.yaml")
    assert handovers_of(QueueRows([], [], {}), rules, MONDAY.timestamp()) is None


def test_the_chart_holds_the_queue_the_store_decided(either_store: StateStore) -> None:
    store = either_store
    rules = rules_of(per_week=2, by="owner")
    teams = {1: "ann", 2: "ann", 3: "ann", 4: "bob", 5: "bob", 6: "bob", 7: "ann"}
    scores = {1: 90, 2: 80, 3: 70, 4: 65, 5: 60, 6: 55, 7: 52}
    batch = batch_of(rules, scores, teams)
    decide(store, batch, teams=[teams[int(p)] for p in batch.contact_ids.tolist()])
    later = MONDAY + timedelta(days=8)  # the next week: each owner's two best waiting go
    again = batch_of(rules, {1: 90}, {1: "ann"}, at=later)
    _, queue = decide(store, again, later, teams=["ann"])
    with store.engine.connect() as connection:
        found = handovers_of(queue_rows(connection), rules, later.timestamp())

    assert found is not None
    assert found.weeks == ["2026-W49", "2026-W50"] and found.teams == ["ann", "bob"]
    assert found.handed == [[2, 2], [2, 1]]  # bob had one lead left to hand over
    assert sum(found.handed[t][1] for t in range(2)) == queue.handed
    assert found.waiting_total == queue.waiting == 0
    # each owner's last decision's lowest score: ann's 52 this week, bob's 55 the last
    assert found.last == [(52, queue.period), (55, queue.period)]

    page = report_page(report_data(batch, source="s", made_at=MONDAY, history=[],
                                   handovers=found))  # fmt: skip
    assert (
        'id="chart-handover"' in page
        and "The score of the last lead handed over per owner: ann 52 (in 2026-W50), bob 55" in page
    )


@pytest.mark.parametrize("waiting", [True, False])
def test_the_page_says_who_waits_or_that_nobody_reached_the_stage(
    store: StateStore, waiting: bool
) -> None:
    rules = rules_of(per_week=1)
    batch = batch_of(rules, {1: 90, 2: 80, 3: 70} if waiting else {1: 5})
    decide(store, batch, MONDAY + timedelta(days=2 if waiting else 0))
    with store.engine.connect() as connection:
        found = handovers_of(
            queue_rows(connection), rules, (MONDAY + timedelta(days=3)).timestamp()
        )
    page = report_page(report_data(batch, source="s", made_at=MONDAY, history=[],
                                   handovers=found))  # fmt: skip
    if waiting:
        assert found is not None and found.waiting_total == 2
        assert "the 2 leads waiting for a place now" in page
        assert "the oldest has waited 1 d 0 h" in page and 'id="chart-handover"' in page
    else:
        assert "No lead has reached the hand-over stage (SQL) yet" in page
        assert "chart-handover" not in page


def test_a_wait_reads_in_days_hours_or_minutes() -> None:
    assert waited(2 * DAY + 3 * 3600 + 59) == "2 d 3 h"
    assert waited(5 * 3600 + 12 * 60) == "5 h 12 min"
    assert waited(59.9) == "under a minute"


def test_a_week_without_hand_over_is_a_zero_bar_up_to_this_week() -> None:
    counts = [("2026-W45", "", 2), ("2026-W47", "", 1)]
    found = handovers_of(QueueRows(counts, [], {}), rules_of(per_week=5), MONDAY.timestamp())
    assert found is not None
    assert found.weeks == ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert found.handed == [[2, 0, 1, 0, 0]]
    across = [("2025-W52", "", 1), ("2026-W02", "", 1)]  # 2026-W01 between, over New Year
    later = handovers_of(QueueRows(across, [], {}), rules_of(per_week=5), 0.0)
    assert later is not None and later.weeks == ["2025-W52", "2026-W01", "2026-W02"]
