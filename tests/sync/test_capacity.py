"""Sales capacity's hand-over (`sync.capacity`): the best-scored eligible leads take the
week's places, the others wait in order, nobody is taken back, the store's count is never
exceeded, not by concurrent decisions either (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import Contact, RuleSet, ScoreBatch, parse_rules, score_records
from sync.capacity import (
    HandoverQueue,
    hand_over,
    handover_line,
    period_of,
    queue_of,
)
from sync.handover_schema import forget_handovers, handover_counts, handover_waiting, handovers
from sync.ranking import ordinal
from sync.store import SCHEMA_VERSION, StateStore

MONDAY = datetime(2026, 11, 30, 9, tzinfo=UTC)  # ISO week 2026-W49
RULES = """
rules:
  - {id: pts, dimension: fit, value: points, per: 1, points: 1, cap: 100}
stages:
  ladder:
    - name: New
    - {name: MQL, when: {min: {total: 10}}}
    - {name: SQL, owner: sales, when: {min: {total: 50}}}
    - {name: Opportunity, owner: sales, when: {min: {total: 95}}}
    - {name: Customer, owner: sales, lead: false, when: {min: {total: 99}}}
capacity: {per_week: PER_WEEK BY}
"""


def rules_of(per_week: int = 3, by: str | None = None) -> RuleSet:
    text = RULES.replace("PER_WEEK", str(per_week)).replace("BY", f", by: {by}" if by else "")
    return parse_rules(text, "capacity.yaml")


def batch_of(rules: RuleSet, scores: dict[int, float], teams: dict[int, str] | None = None,
             at: datetime = MONDAY) -> ScoreBatch:  # fmt: skip
    """The persons scored: person id -> score (the rule's points), `by` value."""
    contacts = [
        Contact(str(p), email=f"p{p}@example.com",
                attributes={"points": s, "owner": (teams or {}).get(p, "ann")})
        for p, s in scores.items()
    ]  # fmt: skip
    return score_records(rules, contacts, [], at)


def decide(store: StateStore, batch: ScoreBatch, at: datetime = MONDAY, *, claim: bool = True,
           teams: Sequence[str] | None = None) -> tuple[ScoreBatch, HandoverQueue]:  # fmt: skip
    by = list(teams) if teams is not None else [""] * len(batch)
    capped, queue = hand_over(store, batch, by, [False] * len(batch), at.timestamp(), claim=claim)
    assert queue is not None
    return capped, queue


def stages(batch: ScoreBatch) -> dict[int, str | None]:
    return {int(p): batch.stage(row) for row, p in enumerate(batch.contact_ids.tolist())}


def places(batch: ScoreBatch) -> dict[int, int]:
    return {int(batch.contact_ids[row]): place for row, place in batch.waiting.items()}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield state
    state.close()


def test_the_best_scored_take_the_week_and_the_others_wait_in_order(store: StateStore) -> None:
    rules = rules_of(per_week=3)
    batch = batch_of(rules, {1: 55, 2: 90, 3: 70, 4: 60, 5: 80, 6: 20})
    assert stages(batch)[1] == "SQL"  # the engine alone: everyone above 50 on SQL
    capped, queue = decide(store, batch)
    assert stages(capped) == {1: "MQL", 2: "SQL", 3: "SQL", 4: "MQL", 5: "SQL", 6: "MQL"}
    assert places(capped) == {4: 1, 1: 2}
    assert queue.now == (2, 3, 5) and queue.waiting == 2 and queue.handed == 3
    assert queue.last_score == 70 and queue.oldest_wait == 0.0
    assert queue.period == "2026-W49"


def test_nobody_is_taken_back_and_a_newcomer_waits_for_next_week(store: StateStore) -> None:
    rules = rules_of(per_week=2)
    decide(store, batch_of(rules, {1: 90, 2: 80, 3: 60}))
    later = MONDAY + timedelta(days=2)
    # 1 fell to 20 points, 4 came in above everyone left: the week's two places are taken
    capped, queue = decide(store, batch_of(rules, {1: 20, 3: 60, 4: 94}, at=later), later)
    assert stages(capped) == {1: "SQL", 3: "MQL", 4: "MQL"}
    assert places(capped) == {4: 1, 3: 2}
    assert queue.oldest_wait == pytest.approx(2 * 86_400)
    # the week turns: the queue's best go, 3 waited from before and is not in this batch
    monday = MONDAY + timedelta(days=7)
    capped, queue = decide(store, batch_of(rules, {4: 94}, at=monday), monday)
    assert stages(capped) == {4: "SQL"} and queue.now == (3, 4) and queue.waiting == 0
    assert queue.period == "2026-W50"


def test_earlier_eligible_goes_first_among_equal_scores(store: StateStore) -> None:
    rules = rules_of(per_week=1)
    decide(store, batch_of(rules, {1: 90, 2: 70}))
    later = MONDAY + timedelta(days=1)
    capped, _ = decide(store, batch_of(rules, {3: 70}, at=later), later)
    assert places(capped) == {3: 2}  # 2 waited since Monday at the same score


def test_each_by_value_has_its_own_places(store: StateStore) -> None:
    rules = rules_of(per_week=1, by="owner")
    batch = batch_of(rules, {1: 90, 2: 80, 3: 70, 4: 60})
    capped, queue = decide(store, batch, teams=["ann", "ann", "bob", "bob"])
    assert stages(capped) == {1: "SQL", 2: "MQL", 3: "SQL", 4: "MQL"}
    assert places(capped) == {2: 1, 4: 1} and queue.handed == 2


def test_a_dry_decision_changes_nothing_in_the_store(store: StateStore) -> None:
    rules = rules_of(per_week=1)
    capped, queue = decide(store, batch_of(rules, {1: 90, 2: 80}), claim=False)
    assert stages(capped) == {1: "SQL", 2: "MQL"} and queue.now == (1,)
    with store.engine.connect() as connection:
        for table in (handovers, handover_counts, handover_waiting):
            assert connection.execute(sa.select(table)).first() is None, table.name


def test_a_stage_reached_before_is_kept_and_not_counted(store: StateStore) -> None:
    rules = rules_of(per_week=1)
    batch = batch_of(rules, {1: 60, 2: 90})
    capped, queue = hand_over(store, batch, ["", ""], [True, False], MONDAY.timestamp(), claim=True)
    assert queue is not None and stages(capped) == {1: "SQL", 2: "SQL"} and queue.now == (2,)


def test_a_customer_is_neither_counted_nor_capped(store: StateStore) -> None:
    rules = rules_of(per_week=1)
    capped, queue = decide(store, batch_of(rules, {1: 100, 2: 70, 3: 60}))
    assert stages(capped) == {1: "Customer", 2: "SQL", 3: "MQL"} and queue.now == (2,)


def test_forgetting_deletes_the_persons_rows_and_frees_no_place(store: StateStore) -> None:
    rules = rules_of(per_week=1)
    decide(store, batch_of(rules, {1: 90, 2: 80}))
    with store.engine.begin() as connection:
        assert forget_handovers(connection, [1, 2]) == {"handovers": 1, "handover_waiting": 1}
    capped, _ = decide(store, batch_of(rules, {3: 85}))
    assert stages(capped) == {3: "MQL"}


def test_the_summary_line_and_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 112)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "112th",
    ]  # fmt: skip
    queue = HandoverQueue("2026-W49", 12, 50, 61.4, 3 * 86_400 + 4 * 3600)
    line = handover_line({"handover": queue.as_dict()})
    assert line == (
        "hand-over 2026-W49: 50 handed over, 12 waiting, last handed over at score 61, "
        "oldest waiting 3 d 4 h"
    )
    assert handover_line({}) is None


def test_periods_are_iso_weeks_ending_monday_midnight() -> None:
    sunday_night = datetime(2026, 12, 6, 23, 59, tzinfo=UTC).timestamp()
    assert period_of(MONDAY.timestamp()) == period_of(sunday_night)
    assert period_of(sunday_night)[1] == datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    assert period_of(datetime(2027, 1, 1, tzinfo=UTC).timestamp())[0] == "2026-W53"


def test_weeks_start_monday_midnight_in_the_rules_time_zone() -> None:
    from zoneinfo import ZoneInfo

    paris, new_york = ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York")
    # Sunday 23:30 UTC is Monday 00:30 in Paris: a new week there, not yet in UTC
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC).timestamp()
    assert period_of(late)[0] == "2026-W49"
    assert period_of(late, "Europe/Paris") == (
        "2026-W50",
        datetime(2026, 12, 14, tzinfo=paris).timestamp(),
    )
    # Monday 03:00 UTC is still Sunday in New York
    early = datetime(2026, 12, 7, 3, tzinfo=UTC).timestamp()
    assert (
        period_of(early)[0] == "2026-W50" and period_of(early, "America/New_York")[0] == "2026-W49"
    )
    assert (
        period_of(early, "America/New_York")[1]
        == datetime(2026, 12, 7, tzinfo=new_york).timestamp()
    )
    # a week holding a change of clocks ends at Monday midnight all the same
    march = datetime(2027, 3, 30, 12, tzinfo=UTC).timestamp()  # Paris moved on the 28th
    assert (
        period_of(march - 3 * 86_400, "Europe/Paris")[1]
        == datetime(2027, 3, 29, tzinfo=paris).timestamp()
    )


def test_the_hand_over_counts_the_rules_time_zone_week(store: StateStore) -> None:
    rules = parse_rules(RULES.replace("PER_WEEK BY", "1, timezone: Europe/Paris"), "c.yaml")
    sunday = datetime(2026, 12, 6, 22, tzinfo=UTC)  # 23:00 in Paris: still W49 there
    decide(store, batch_of(rules, {1: 90}, at=sunday), sunday)
    paris_monday = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Monday 00:30 in Paris
    _, queue = decide(store, batch_of(rules, {2: 80}, at=paris_monday), paris_monday)
    assert queue.period == "2026-W50" and queue.now == (2,), queue


runs = st.lists(
    st.tuples(
        st.integers(0, 9),  # days after MONDAY
        st.dictionaries(st.integers(1, 12), st.integers(0, 100), min_size=1, max_size=8),
    ),
    min_size=1,
    max_size=6,
).map(lambda items: sorted(items, key=lambda item: item[0]))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(per_week=st.integers(1, 3), batches=runs)
def test_capacity_never_exceeded_never_regressing_and_in_score_order(
    tmp_path_factory: pytest.TempPathFactory,
    per_week: int,
    batches: list[tuple[int, dict[int, int]]],
) -> None:
    rules = rules_of(per_week=per_week)
    state = StateStore(f"sqlite:///{tmp_path_factory.mktemp('h') / 'state.db'}")
    handed: set[int] = set()
    try:
        for day, scores in batches:
            at = MONDAY + timedelta(days=day)
            capped, queue = decide(state, batch_of(rules, scores, at=at), at)
            now = set(queue.now)
            handed |= now
            got = stages(capped)
            for person in handed & set(scores):  # never taken back
                assert got[person] in ("SQL", "Opportunity", "Customer"), (person, got)
            with state.engine.connect() as connection:
                taken = dict(connection.execute(sa.select(handovers.c.period, sa.func.count())
                                                .group_by(handovers.c.period)).all())  # fmt: skip
                waits = [float(s) for s in connection.execute(
                    sa.select(handover_waiting.c.score)).scalars()]  # fmt: skip
                best = {int(p): float(s) for p, s in connection.execute(
                    sa.select(handovers.c.person_id, handovers.c.score))}  # fmt: skip
            assert all(count <= per_week for count in taken.values()), taken
            if waits:  # someone waits only when the week's places are all taken
                assert taken.get(queue.period, 0) == per_week
                # and nobody handed over by this decision scored below anyone left waiting
                assert all(best[p] >= max(waits) for p in now)
            for person, score in scores.items():  # a waiting lead is eligible, one below
                row = list(scores).index(person)
                if row in capped.waiting:
                    assert score >= 50 and got[person] == "MQL" and person not in handed
    finally:
        state.close()


def _race(stores: Sequence[StateStore], rules: RuleSet, scores: dict[int, float]) -> set[int]:
    """Eight triggers, each a batch of one, decided at once; who was handed over."""
    handed: list[int] = []
    failures: list[BaseException] = []
    gate = threading.Barrier(len(scores))

    def trigger(index: int, person: int) -> None:
        try:
            gate.wait()
            batch = batch_of(rules, {person: scores[person]})
            _, queue = decide(stores[index % len(stores)], batch)
            handed.extend(queue.now)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=trigger, args=(i, p)) for i, p in enumerate(scores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return set(handed)


@pytest.mark.parametrize("backend", ["sqlite-one-store", "sqlite-many-stores", "postgresql"])
def test_concurrent_triggers_never_exceed_the_capacity(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        url = str(request.getfixturevalue("postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'state.db'}"
    count = 1 if backend == "sqlite-one-store" else 4
    stores = [StateStore(url) for _ in range(count)]
    try:
        rules = rules_of(per_week=3)
        scores = {p: 60.0 + p for p in range(1, 9)}
        handed = _race(stores, rules, scores)
        assert len(handed) == 3
        queue = queue_of(stores[0], MONDAY.timestamp())
        assert queue.handed == 3 and queue.waiting == 5
        with stores[0].engine.connect() as connection:
            taken = connection.execute(sa.select(handover_counts.c.taken)).scalars().all()
        assert taken == [3]
    finally:
        for state in stores:
            state.close()


def test_a_store_at_version_10_gains_the_tables_empty_and_keeps_the_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = StateStore(url)
    with first.engine.begin() as connection:
        for table in (handovers, handover_counts, handover_waiting):
            table.drop(connection)
        connection.execute(sa.text("UPDATE meta SET value = '10' WHERE key = 'schema_version'"))
    first.close()
    again = StateStore(url)
    try:
        assert again.version() == SCHEMA_VERSION
        assert {"handovers", "handover_counts", "handover_waiting"} <= set(
            sa.inspect(again.engine).get_table_names()
        )
        assert queue_of(again, MONDAY.timestamp()) == HandoverQueue("2026-W49", 0)
    finally:
        again.close()


def test_moving_the_hand_over_stage_moves_nobody_handed_over_before(store: StateStore) -> None:
    decide(store, batch_of(rules_of(per_week=3), {1: 60}))  # 1 handed over to SQL at 60
    opportunity = parse_rules(RULES.replace("PER_WEEK BY", "3, stage: Opportunity"), "c.yaml")
    later = MONDAY + timedelta(days=1)
    capped, queue = decide(store, batch_of(opportunity, {1: 60, 2: 96}, at=later), later)
    # 1 stays where it was handed over (its 60 is SQL), 2 is handed over to Opportunity
    assert stages(capped) == {1: "SQL", 2: "Opportunity"} and queue.now == (2,)
    with store.engine.connect() as connection:
        kept = dict(connection.execute(sa.select(handovers.c.person_id, handovers.c.stage)).all())
    assert kept == {1: "SQL", 2: "Opportunity"}


def test_a_store_at_version_11_gains_the_stage_column_and_keeps_its_hand_overs(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    first = StateStore(url)
    with first.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE handovers DROP COLUMN stage"))
        connection.execute(
            sa.text(
                "INSERT INTO handovers (person_id, period, team, at, score)"
                " VALUES (1, '2026-W49', '', 0, 60)"
            )
        )
        connection.execute(sa.text("UPDATE meta SET value = '11' WHERE key = 'schema_version'"))
    first.close()
    again = StateStore(url)
    try:
        assert again.version() == SCHEMA_VERSION == 15
        # a hand-over from before the column: at the rules' present hand-over stage
        capped, _ = decide(again, batch_of(rules_of(), {1: 20}))
        assert stages(capped) == {1: "SQL"}
    finally:
        again.close()


def test_a_lead_disqualified_after_hand_over_keeps_the_stage_and_ranks_last(
    store: StateStore,
) -> None:
    import io

    from rich.console import Console

    from sync.ranking import print_ranking

    spam = "  - {id: spam, contact: {spam: {equals: 'yes'}}, disqualify: true, points: -5}\n"
    rules = parse_rules(RULES.replace("PER_WEEK BY", "2").replace("rules:\n", "rules:\n" + spam),
                        "c.yaml")  # fmt: skip

    def scored(scores: dict[int, float], flagged: set[int], at: datetime) -> ScoreBatch:
        people = [Contact(str(p), email=f"p{p}@example.com",
                          attributes={"points": s, "spam": "yes" if p in flagged else "no"})
                  for p, s in scores.items()]  # fmt: skip
        return score_records(rules, people, [], at)

    decide(store, scored({1: 90, 2: 80, 3: 60}, set(), MONDAY))  # 1 and 2 handed over
    later = MONDAY + timedelta(days=1)
    capped, _ = decide(store, scored({1: 90, 2: 80, 3: 60, 4: 70}, {1}, later), later)
    # never taken back: 1 stays on SQL, disqualified, and comes after every qualified lead
    assert stages(capped)[1] == "SQL" and bool(capped.disqualified[0])
    order = [int(capped.contact_ids[r]) for r in capped.ranking()]
    assert order == [2, 4, 3, 1]
    out = Console(file=io.StringIO(), width=200)
    print_ranking(out, capped, later, 10)
    lines = [line for line in out.file.getvalue().splitlines() if "@example.com" in line]  # type: ignore[attr-defined]
    assert "p1@example.com" in lines[-1] and "DISQUALIFIED" in lines[-1], lines
