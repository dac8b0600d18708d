"""RFM: quintile bounds over a population, digits with given bounds, segments, and RFM
fields read by rules and stages."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ActivityFrame, ContactFrame, InputError, RuleSet, score
from scoring.rfm import RfmBounds, changes_in, population_bounds, quintile_bounds
from tests.helpers import NOW, act, days_ago, person, rules
from tests.scoring.test_rule_files import problems

QUINTILES = rules(
    """
    rules:
      - {id: champion, contact: {rfm_segment: champions}, points: 20}
      - {id: spend, value: rfm_score, per: 1, points: 1, cap: 15}
    stages:
      ladder:
        - {name: prospect}
        - {name: loyal, when: {contact: {rfm_f: {gte: 4}}}}
    rfm:
      segments:
        - {name: champions, r: [4, 5], f: [4, 5], m: [4, 5]}
        - {name: at risk, r: [1, 2], f: [3, 5]}
    """
)
FIXED = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 1}
    rfm:
      bounds:
        recency: [30, 90, 180, 365]
        frequency: [1, 2, 4, 8]
        monetary: [100, 500, 1000, 5000]
    """
)

Purchase = tuple[float, float]
"""(days before NOW, amount) of one purchase."""


def _frames(people: list[list[Purchase]]) -> tuple[ContactFrame, ActivityFrame]:
    contacts = [person(f"c{i}", f"p{i}@acme.io") for i in range(len(people))]
    acts = [
        act("purchase", days, f"c{i}", amount=amount)
        for i, bought in enumerate(people)
        for days, amount in bought
    ]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(acts, frame.ids)


def _bounds(ruleset: RuleSet, people: list[list[Purchase]]) -> RfmBounds | None:
    frame, acts = _frames(people)
    return population_bounds(ruleset, acts, len(frame), NOW.timestamp())


def _digit_up(value: float, cuts: tuple[float, ...] | list[float]) -> int:
    """1 plus the bounds below the value, one bound at a time."""
    return 1 + sum(1 for cut in cuts if cut < value)


def _quintile_digit(value: float, cuts: tuple[float, ...] | list[float]) -> int:
    """The digit by quintile bounds as docs/rules.md says: 1 plus the bounds below, but for
    a value equal to two bounds or more (a tie), whose span's lowest digit it takes when
    the span touches 1, 5 when it touches 5 (and not 1), else the span's middle."""
    low, high = _digit_up(value, cuts), 1 + sum(1 for cut in cuts if cut <= value)
    if high - low < 2 or low == 1:
        return low
    return 5 if high == 5 else (low + high) // 2


def _expected(ruleset: RuleSet, bought: list[Purchase], bounds: RfmBounds | None) -> str | None:
    """One contact's digits, worked out purchase by purchase as docs/rules.md says."""
    spec = ruleset.rfm
    assert spec is not None
    if not bought:
        return None
    last_days = min(days for days, _ in bought)
    count = float(len(bought))
    amount = sum(a for _, a in bought)
    fixed = spec.bounds
    if fixed.recency is not None:
        r = 5 - sum(1 for cut in fixed.recency if cut < last_days)
    else:
        assert bounds is not None
        r = _quintile_digit((NOW - timedelta(days=last_days)).timestamp(), bounds.recency)
    quintiles = (bounds.frequency, bounds.monetary) if bounds else ((), ())
    f = (
        _digit_up(count, fixed.frequency)
        if fixed.frequency
        else _quintile_digit(count, quintiles[0])
    )
    m = (
        _digit_up(amount, fixed.monetary)
        if fixed.monetary
        else _quintile_digit(amount, quintiles[1])
    )
    return f"{r}{f}{m}"


@given(st.lists(st.integers(-5, 5).map(float), max_size=40))
def test_quintile_bounds_split_the_population_at_nearest_ranks(values: list[float]) -> None:
    cuts = quintile_bounds(np.array(values))
    if not values:
        assert cuts == ()
        return
    assert len(cuts) == 4 and list(cuts) == sorted(cuts)
    n = len(values)
    for k, cut in enumerate(cuts, start=1):
        assert cut in values
        rank = math.ceil(k * n / 5)
        assert sum(v <= cut for v in values) >= rank  # the k-th fifth is at or below it
        assert sum(v < cut for v in values) < rank  # and it is the smallest such value


@pytest.mark.parametrize("size", [0, 1, 2, 4])
def test_tiny_populations_are_well_defined(size: int) -> None:
    people = [[(float(10 * (i + 1)), 100.0 * (i + 1))] * (i + 1) for i in range(size)]
    bounds = _bounds(QUINTILES, [*people, []])
    assert bounds is not None and bounds.people == size
    assert all(len(cuts) == (4 if size else 0) for cuts in (bounds.recency, bounds.frequency))
    frame, acts = _frames([*people, []])
    batch = score(QUINTILES, frame, acts, NOW, rfm=bounds)
    assert batch.rfm is not None
    for row, bought in enumerate([*people, []]):
        assert batch.rfm.code(row) == _expected(QUINTILES, bought, bounds)
    assert batch.rfm.code(size) is None and int(batch.rfm.total[size]) == 0
    if size == 1:  # a lone purchaser is every bound: the lowest digit throughout
        assert batch.rfm.code(0) == "111"


purchases = st.lists(
    st.tuples(st.integers(0, 400).map(float), st.sampled_from([0.0, 50.0, 120.0, 999.5, 4000.0])),
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(purchases, max_size=12), st.booleans(), st.data())
def test_digits_with_given_bounds_equal_a_loop_per_contact(
    people: list[list[Purchase]], fixed: bool, data: st.DataObject
) -> None:
    ruleset = FIXED if fixed else QUINTILES
    bounds = None
    if not fixed:
        cuts = st.lists(st.floats(0, 10_000, allow_nan=False), min_size=4, max_size=4).map(sorted)
        moments = cuts.map(lambda c: [days_ago(400 * x / 10_000).timestamp() for x in c])
        bounds = data.draw(
            st.one_of(
                st.just(_bounds(ruleset, people)),
                st.builds(lambda r, f, m: RfmBounds(tuple(sorted(r)), tuple(f), tuple(m), 9),
                          moments, cuts, cuts),
            )
        )  # fmt: skip
    frame, acts = _frames(people)
    batch = score(ruleset, frame, acts, NOW, rfm=bounds)
    assert batch.rfm is not None
    for row, bought in enumerate(people):
        expected = _expected(ruleset, bought, bounds)
        assert batch.rfm.code(row) == expected
        total = sum(int(d) for d in expected) if expected else 0
        assert int(batch.rfm.total[row]) == total
        # the fields conditions read hold the same digits
        fields = batch.rfm.fields
        assert fields["rfm"].value(row) == expected
        assert fields["rfm_score"].value(row) == (total or None)
        for name, at in (("rfm_r", 0), ("rfm_f", 1), ("rfm_m", 2)):
            assert fields[name].value(row) == (int(expected[at]) if expected else None)
        # a batch of one, with the same bounds, gives the same digits
        alone, alone_acts = _frames([bought])
        single = score(ruleset, alone, alone_acts, NOW, rfm=bounds)
        assert single.rfm is not None and single.rfm.code(0) == expected


def test_a_tie_at_the_best_end_takes_5_and_one_in_the_middle_its_span_s_middle() -> None:
    # 8 of 10 buyers at 5 purchases: the bounds are 2, 5, 5, 5; the tie spans F2 to F5
    people = [[(10.0, 100.0)], [(10.0, 100.0)] * 2, *([[(10.0, 100.0)] * 5] * 8)]
    bounds = _bounds(QUINTILES, people)
    assert bounds is not None and bounds.frequency == (2.0, 5.0, 5.0, 5.0)
    frame, acts = _frames(people)
    batch = score(QUINTILES, frame, acts, NOW, rfm=bounds)
    assert batch.rfm is not None
    assert [int(batch.rfm.f[row]) for row in range(10)] == [1, 1] + [5] * 8  # 2 is at F1's bound
    # a tie touching the worst end keeps 1; one in the middle (F2 to F4) takes F3
    assert _quintile_digit(1.0, (1.0, 1.0, 3.0, 4.0)) == 1
    assert _quintile_digit(3.0, (1.0, 3.0, 3.0, 4.0)) == 3
    assert _quintile_digit(4.0, (1.0, 3.0, 4.0, 4.0)) == 5
    assert _quintile_digit(4.0, (1.0, 3.0, 3.0, 4.0)) == 4  # one bound: no tie, the digit below


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(0, 6).map(float), min_size=1, max_size=30),
    st.lists(st.integers(-1, 7).map(float), min_size=1, max_size=20),
)
def test_quintile_digits_rise_with_the_value(population: list[float], values: list[float]) -> None:
    from scoring.rfm import quintile_digit

    cuts = quintile_bounds(np.array(population))
    ordered = np.array(sorted(values))
    found = quintile_digit(ordered, cuts)
    assert all(1 <= d <= 5 for d in found.tolist())
    assert np.all(np.diff(found.astype(int)) >= 0)  # monotone in the value
    assert found.tolist() == [_quintile_digit(v, cuts) for v in ordered.tolist()]
    # ties share a digit
    assert len({int(d) for v, d in zip(ordered, found, strict=True) if v == ordered[0]}) == 1


def test_segments_and_digits_are_read_by_rules_and_stages() -> None:
    best = [(2.0, 900.0)] * 5
    people = [best, [(300.0, 10.0)] * 3, [(200.0, 5.0)], [(100.0, 50.0)] * 2, []]
    bounds = _bounds(QUINTILES, people)
    frame, acts = _frames(people)
    batch = score(QUINTILES, frame, acts, NOW, rfm=bounds)
    assert batch.rfm is not None
    segments = [batch.rfm.segment(row) for row in range(len(people))]
    assert segments[0] == "champions" and segments[4] is None
    for row in range(len(people)):
        digits = batch.rfm.code(row)
        points = 20 if segments[row] == "champions" else 0
        points += sum(int(d) for d in digits) if digits else 0
        assert float(batch.total[row]) == points
        loyal = digits is not None and int(digits[1]) >= 4
        assert batch.stage(row) == ("loyal" if loyal else "prospect")
    assert batch.row(0)["rfm"] == batch.rfm.code(0)
    assert batch.row(4)["rfm_segment"] is None


def test_quintiles_without_bounds_are_refused() -> None:
    frame, acts = _frames([[(1.0, 10.0)]])
    with pytest.raises(InputError, match="population"):
        score(QUINTILES, frame, acts, NOW)


def test_fixed_recency_moves_when_the_days_pass_a_bound() -> None:
    frame, acts = _frames([[(20.0, 10.0)], [(400.0, 10.0)], []])
    batch = score(FIXED, frame, acts, NOW)
    assert batch.rfm is not None
    waits = changes_in(batch.rfm, NOW.timestamp())
    assert waits[0] == pytest.approx(10 * 86_400.0)  # 30 days after the purchase, R 5 becomes 4
    assert math.isinf(waits[1]) and math.isinf(waits[2])
    later = score(FIXED, frame, acts, NOW + timedelta(seconds=float(waits[0]) + 1))
    assert later.rfm is not None and later.rfm.r[0] == batch.rfm.r[0] - 1


def test_rfm_fields_without_an_rfm_block_are_refused() -> None:
    found = problems(
        """
        rules:
          - {id: best, contact: {rfm_segment: champions}, points: 5}
        """
    )
    assert any("rfm_segment" in p and "`rfm` block" in p for p in found)


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("bounds: {frequency: [1, 2, 3]}", "four bounds"),
        ("bounds: {monetary: [1, 5, 5, 9]}", "must rise"),
        ("segments: [{name: a, r: [5, 1]}]", "backwards"),
        ("segments: [{name: a, r: 6}]", "a digit is 1 to 5"),
        ("segments: [{name: a}]", "needs `r`"),
    ],
)
def test_bad_rfm_blocks_are_located(block: str, message: str) -> None:
    found = problems(f"rules:\n  - {{id: v, activity: page_view, points: 1}}\nrfm: {{{block}}}\n")
    assert any(message in p and "rfm" in p for p in found), found


def test_purchases_are_read_however_old() -> None:
    assert QUINTILES.horizon_days([act("purchase").type]) is None
    assert "amount" in QUINTILES.activity_fields()
    assert "rfm_segment" not in QUINTILES.contact_fields()


def test_explain_and_ranking_show_the_digits_and_what_they_stand_on() -> None:
    from rich.console import Console

    from sync.ranking import print_ranking, result_columns
    from sync.report import print_explanation

    people = [[(3.0, 900.0)] * 5, *([(200.0 + i, 40.0)] for i in range(4)), []]
    frame, acts = _frames(people)
    batch = score(QUINTILES, frame, acts, NOW, rfm=_bounds(QUINTILES, people))
    assert batch.rfm is not None
    console = Console(width=200, record=True)
    print_explanation(console, batch, 0)
    text = console.export_text()
    code = batch.rfm.code(0)
    assert code is not None
    assert (
        f"RFM {code} champions: R{code[0]} last purchase {days_ago(3).date()} (3 days ago)" in text
    )
    assert (
        f"F{code[1]} 5 purchases, M{code[2]} 4,500 amount (R, F, M by quintiles of 5 purchasers)"
        in text
    )
    console = Console(width=200, record=True)
    print_explanation(console, batch, 5)
    assert "RFM: no purchase" in console.export_text()
    console = Console(width=200, record=True)
    print_ranking(console, batch, NOW, 10)
    text = console.export_text()
    assert f"{code} champions" in text
    assert (
        "RFM segments of the 5 who bought: champions 1, at risk 0" in text
    )  # the others bought once: F1
    console = Console(width=200, record=True)
    print_explanation(console, batch, 1)
    assert " 1 purchase, " in console.export_text()  # one purchase, not "1 purchases"
    assert result_columns(batch)[-4:] == ["rfm", "rfm_score", "rfm_segment", "reasons"]


def test_fixed_recency_bounds_the_due_moment() -> None:
    from scoring import due_in

    frame, acts = _frames([[(20.0, 10.0)], [(400.0, 10.0)], []])
    batch = score(FIXED, frame, acts, NOW)
    due = due_in(batch, acts, NOW)
    assert 10 * 86_400.0 - 1 <= due[0] <= 10 * 86_400.0  # the recency digit moves then
    assert math.isinf(due[2])


def test_worked_example_champion_is_a_key_account() -> None:
    from pathlib import Path

    from scoring import load_rules

    example = load_rules(Path(__file__).parents[2] / "examples" / "rfm.yaml")
    recent = [[(float(d), 6000.0)] * 4 for d in range(1, 5)]  # four loyal customers
    people = [[(0.5, 7000.0)] * 6, *recent, [(300.0, 500.0)], []]
    bounds = _bounds(example, people)
    frame, acts = _frames(people)
    batch = score(example, frame, acts, NOW, rfm=bounds)
    assert batch.rfm is not None
    code = batch.rfm.code(0)
    assert code is not None and code[2] == "5"  # 42,000 is beyond the fixed 20,000: M5
    assert batch.rfm.segment(0) == "champions" and batch.stage(0) == "Key account"
    loyalty = float(batch.dimension("loyalty")[0])
    assert loyalty == min(40, 20 + sum(int(d) for d in code))
    assert batch.reasons_text(0) == "+20 RFM champion · +15 RFM score (15, capped at 15)"
    assert batch.rfm.explain(0) == (
        "RFM 555 champions: R5 last purchase 2026-11-01 (0 days ago), F5 6 purchases, "
        "M5 42,000 amount (R, F by quintiles of 6 purchasers; M by fixed bounds)"
    )
    # quintiles rank customers against each other: four days ago is the oldest but one
    assert [batch.rfm.code(row) for row in range(1, 5)] == ["415", "315", "215", "115"]
    assert [batch.rfm.segment(row) for row in range(1, 5)] == [
        "others",
        "others",
        "at risk",
        "at risk",
    ]
    assert batch.rfm.code(5) == "111" and batch.stage(5) == "Customer"  # old and small
    assert batch.rfm.code(6) is None and batch.stage(6) == "Prospect"


def test_the_rfm_blocks_of_the_rule_reference_validate() -> None:
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text("utf-8")
    section = text.split("## RFM\n", 1)[1].split("\n## ", 1)[0]
    blocks = [part.split("```", 1)[0] for part in section.split("```yaml\n")[1:]]
    assert len(blocks) == 2
    for block in blocks:
        head = "dimensions: {fit: {}, loyalty: {}}\n"
        rules_needed = (
            "" if "rules:" in block else "rules: [{id: v, contact: {rfm_r: 5}, points: 1}]\n"
        )
        ruleset = rules(head + rules_needed + block)
        assert ruleset.rfm is not None


def test_columns_hold_what_rows_give_with_rfm() -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    from sandbox.world import generate_world
    from sandbox.world.columns import world_columns
    from scoring import load_rules
    from tests.scoring.test_result_columns import assert_columns_are_the_rows

    example = load_rules(Path(__file__).parents[2] / "examples" / "rfm.yaml")
    world = generate_world(400, seed=4, days=200)
    c = world_columns(world)
    contacts = ContactFrame.from_arrays(c.ids, c.emails, c.people)
    activities = ActivityFrame.from_arrays(c.person, c.type, c.at, c.events)
    bounds = population_bounds(example, activities, len(contacts), world.now)
    assert bounds is not None and bounds.people > 0
    batch = score(example, contacts, activities, datetime.fromtimestamp(world.now, UTC), rfm=bounds)
    assert_columns_are_the_rows(batch)
