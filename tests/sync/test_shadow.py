"""Shadow rules: the comparison's figures, and a sync with shadow rules writing what it
writes without them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sandbox import Sandbox
from scoring import RuleSet, load_rules, score_records
from sync import StateStore, SyncOptions
from sync.cli import app
from sync.shadow import average_ranks, compare, shadow_lines, spearman, unread_by_live
from tests.helpers import NOW, act, person, rules, unwrapped
from tests.sync.cli_env import hubspot_env
from tests.sync.test_sync_hubspot import held, make_sync

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


def shadow_text() -> str:
    """The default rules with opens worth more, an easier Lead and an easier grade A."""
    text = RULES.read_text("utf-8")
    changes = [
        ("activity: email_open\n    points: 5\n", "activity: email_open\n    points: 20\n"),
        ("    half_life_days: 30\n    cap: 15\n", "    half_life_days: 30\n    cap: 40\n"),
        ("min: {activity: 15}", "min: {activity: 5}"),
        ("{grade: A, min: 75}", "{grade: A, min: 55}"),
    ]
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


# -- ranks and correlation ---------------------------------------------------------------------


def test_ranks_put_the_best_first_and_ties_share_their_mean_rank() -> None:
    assert average_ranks([10, 20, 20, 5]).tolist() == [3.0, 1.5, 1.5, 4.0]
    assert average_ranks([7, 7, 7]).tolist() == [2.0, 2.0, 2.0]
    assert average_ranks([]).tolist() == []


def test_spearman_of_hand_made_scores() -> None:
    # ranks differ by 1, 1, 1, 1, 0: 1 - 6 * 4 / (5 * 24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [30, 20, 10]) == pytest.approx(-1.0)
    # with ties: ranks (2.5, 2.5, 1, 4) against (1, 2, 3, 4), centred (0, 0, -1.5, 1.5) and
    # (-1.5, -0.5, 0.5, 1.5): 1.5 / sqrt(4.5 * 5)
    assert spearman([5, 5, 9, 1], [40, 30, 20, 10]) == pytest.approx(1.5 / 22.5**0.5)
    assert spearman([3, 3, 3], [1, 2, 3]) is None
    assert spearman([1], [2]) is None


scores = st.lists(st.integers(-1000, 200), min_size=2, max_size=40)


@given(st.data())
def test_spearman_is_scipys(data: st.DataObject) -> None:
    stats = pytest.importorskip("scipy.stats")
    left = data.draw(scores)
    right = data.draw(st.lists(st.integers(-50, 50), min_size=len(left), max_size=len(left)))
    ours = spearman(left, right)
    if len(set(left)) < 2 or len(set(right)) < 2:
        assert ours is None
    else:
        assert ours == pytest.approx(float(stats.spearmanr(left, right).statistic), abs=1e-9)


@given(scores)
def test_ranks_keep_the_order_and_sum_as_ranks_do(values: list[int]) -> None:
    ranks = average_ranks(values)
    assert ranks.sum() == pytest.approx(len(values) * (len(values) + 1) / 2)
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            assert (a > b) == (ranks[i] < ranks[j])


# -- the comparison of two batches ----------------------------------------------------------------

LIVE = """
rules:
  - {id: demo, label: demo asked, activity: demo_request, points: 30}
  - {id: opens, label: email open, activity: email_open, points: 2}
stages:
  ladder:
    - {name: Prospect}
    - {name: Lead, when: {min: {total: 10}}}
grades:
  dimension: engagement
  bands: [{grade: A, min: 10}, {grade: B}]
"""
SHADOW = """
rules:
  - {id: demo, label: demo asked, activity: demo_request, points: 5}
  - {id: opens, label: email open, activity: email_open, points: 10}
  - {id: titled, label: has a title, contact: {job_title: {exists: true}}, points: 1}
stages:
  ladder:
    - {name: Prospect}
    - {name: Lead, when: {min: {total: 10}}}
grades:
  dimension: engagement
  bands: [{grade: A, min: 10}, {grade: B}]
"""


def batches() -> tuple[Any, Any]:
    people = [person(f"c{i}", f"p{i}@acme.io") for i in range(4)]
    activities = [
        act("demo_request", 1, "c0"),  # live 30, shadow 5
        act("email_open", 1, "c1"),  # live 2, shadow 10
        act("email_open", 2, "c1"),  # live 4 in all, shadow 20
        act("email_open", 1, "c2"),  # live 2, shadow 10
    ]  # c3: nothing
    return (
        score_records(rules(LIVE), people, activities, NOW),
        score_records(rules(SHADOW), people, activities, NOW),
    )


def test_the_comparison_counts_stage_changes_and_lists_the_biggest_moves() -> None:
    live, shadow = batches()
    found = compare(live, shadow, name="new.yaml", top=2)

    # live ranks (30, 4, 2, 0) -> 1, 2, 3, 4; shadow (5, 20, 10, 0) -> 3, 1, 2, 4
    assert found.people == 4
    assert found.spearman == pytest.approx(1 - 6 * (4 + 1 + 1 + 0) / (4 * 15))
    assert found.stage_changes == 3  # c0 falls to Prospect, c1 and c2 rise to Lead
    assert found.stage_moves == {"Prospect -> Lead": 2, "Lead -> Prospect": 1}
    assert found.grade_changes == 2  # opens (engagement) of 20 and 10 make c1 and c2 A
    assert [(m.email, m.live_rank, m.shadow_rank) for m in found.movers] == [
        ("p0@acme.io", 1.0, 3.0),  # moves by 2
        ("p1@acme.io", 2.0, 1.0),  # by 1, with a better live score than c2's
    ]
    assert found.movers[0].live_reason == "+30 demo asked"
    assert found.movers[0].shadow_reason == "+5 demo asked"
    assert found.movers[1].shadow_reason == "+20 email open ×2"


def test_nobody_moves_under_the_same_rules_and_the_lines_fit_80_columns() -> None:
    live, _ = batches()
    found = compare(live, live, name="same.yaml")

    assert found.spearman == pytest.approx(1.0)
    assert found.stage_changes == found.grade_changes == 0 and found.movers == []
    lines = shadow_lines(compare(*batches(), name="x" * 100))
    assert all(len(line) <= 80 for line in lines)
    assert "rank correlation with the live rules (Spearman): 0.400" in lines[1]


def test_what_the_live_pull_does_not_read_is_noted() -> None:
    notes = unread_by_live(rules(LIVE), rules(SHADOW))
    assert notes == ["contact fields the live rules do not pull, blank here: job_title"]
    longer = rules(LIVE.replace("points: 2}", "points: 2, window_days: 30}"))
    assert unread_by_live(longer, rules(LIVE)) == [
        "activities read further back than the live rules pull, "
        "older ones may be missing: email_open"
    ]


def test_the_system_a_purchase_came_from_is_never_noted_unread() -> None:
    # shadow rules with RFM read a purchase's amount, system and currency: the store
    # knows every activity's system whatever the live rules read
    notes = unread_by_live(rules(LIVE), rules(LIVE + "rfm: {}\n"))
    assert notes[0] == "activity fields the live rules do not pull, blank here: amount, currency"


# -- a sync with shadow rules --------------------------------------------------------------------

AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def stored(store: StateStore) -> dict[str, Any]:
    """What a run leaves in the store that shadow rules must not touch, by email (person
    ids and the count of marks follow the order pages arrive in, streams side by side)."""
    queries = {
        "persons": "SELECT email, due FROM persons",
        "history": "SELECT p.email, h.at, h.rules, h.score, h.dimensions, h.stage, h.grade "
        "FROM history h JOIN persons p ON p.id = h.person_id",
        "written": 'SELECT system, record_id, "values", written_at FROM written',
        "rulesets": "SELECT * FROM rulesets",
    }
    with store.engine.connect() as connection:
        tables = {
            name: sorted(tuple(row) for row in connection.execute(sa.text(query)))
            for name, query in queries.items()
        }
    # the streams' cursors, without the emulator's own clock (two sandboxes' writes land
    # at different moments)
    return {**tables, "cursors": sorted(store.cursors("hubspot"))}


def synced(tmp_path: Path, shadow: RuleSet | None) -> tuple[Any, ...]:
    """A full and an incremental run on a fresh sandbox, with or without shadow rules."""
    with Sandbox(people=150, seed=5) as box:
        store = StateStore(f"sqlite:///{tmp_path / f'{shadow is None}.db'}")
        try:
            sync = make_sync(box, load_rules(RULES), store, at=AT)
            first = sync.run(SyncOptions(full=True, shadow=shadow, shadow_name="new.yaml"))
            second = sync.run(SyncOptions(shadow=shadow, shadow_name="new.yaml"))
            return held(box, load_rules(RULES)), stored(store), first, second
        finally:
            store.close()


def test_a_sync_with_shadow_rules_writes_and_keeps_exactly_what_it_does_without(
    tmp_path: Path,
) -> None:
    shadow = tmp_path / "new.yaml"
    shadow.write_text(shadow_text(), "utf-8")
    values, kept, first, second = synced(tmp_path, load_rules(shadow))
    plain_values, plain_kept, plain, _ = synced(tmp_path, None)

    assert values == plain_values and len(values) > 100
    assert kept == plain_kept
    assert first.systems["hubspot"].written == plain.systems["hubspot"].written
    assert plain.shadow is None
    found = first.shadow
    assert found is not None and found.everyone and found.people == first.rescored
    assert found.spearman is not None and 0.5 < found.spearman < 1.0
    assert found.stage_changes > 0 and found.grade_changes > 0 and len(found.movers) == 10
    assert "Prospect -> Lead" in found.stage_moves
    assert second.shadow is not None and not second.shadow.everyone
    # the summary the run table and the log keep names movers by person id, no address
    kept = json.loads(json.dumps(first.as_dict()))["shadow"]["movers"]
    assert [m["person"] for m in kept] == [m.person for m in found.movers]
    assert not any("email" in m for m in kept)
    assert not any(m.email and m.email in json.dumps(first.as_dict()) for m in found.movers)
    assert any(m.email for m in found.movers)


# -- the command ----------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=120, seed=6) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return hubspot_env(box, tmp_path)


def test_a_bad_shadow_file_exits_2_before_any_call(
    box: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "shadow.yaml"
    bad.write_text("rules:\n  - id: x\n    activity: page_view\n    points: ten\n", "utf-8")
    box.hubspot.calls.clear()
    result = runner.invoke(app, ["sync", "--shadow", str(bad)], env=env)

    assert result.exit_code == 2
    assert "shadow.yaml:4" in unwrapped(result.stderr) and "points" in result.stderr
    assert "Traceback" not in result.output
    assert sum(box.hubspot.calls.values()) == 0


def test_sync_prints_the_comparison_within_80_columns(
    box: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    shadow = tmp_path / "new.yaml"
    shadow.write_text(shadow_text(), "utf-8")
    assert runner.invoke(app, ["setup"], env=env).exit_code == 0
    result = runner.invoke(
        app, ["sync", "--full", "--shadow", str(shadow), "--shadow-top", "3"], env=env
    )

    assert result.exit_code == 0, result.output
    text = result.stdout[result.stdout.index("shadow rules ") :]
    assert "rank correlation with the live rules (Spearman): 0." in text
    assert "biggest rank moves (live -> shadow):" in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert text.count("      shadow: ") == 3
    # the run's summary JSON in the store holds the comparison
    store = StateStore(env["LEADSCORE_STATE_URL"])
    try:
        with store.engine.connect() as connection:
            summary = connection.execute(sa.text("SELECT summary FROM runs")).scalar_one()
    finally:
        store.close()
    assert json.loads(summary)["shadow"]["people"] == box.hubspot.contacts.size
    assert "@" not in summary  # no address outlives the person in a run's summary
    assert np.isfinite(json.loads(summary)["shadow"]["spearman"])


def test_a_dry_run_compares_too_and_writes_nothing(
    box: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    shadow = tmp_path / "new.yaml"
    shadow.write_text(shadow_text(), "utf-8")
    before = box.hubspot.calls["contacts.batch_update"]
    result = runner.invoke(app, ["sync", "--dry-run", "--shadow", str(shadow)], env=env)

    assert result.exit_code == 0, result.output
    assert "records would be written" in result.stdout
    assert "rank correlation with the live rules (Spearman): 0." in result.stdout
    assert box.hubspot.calls["contacts.batch_update"] == before


def test_people_either_rule_set_excludes_are_left_out_of_the_comparison() -> None:
    from scoring import ActivityFrame, ContactFrame, joined_exclusions, score_included
    from sync.shadow import compare
    from tests.helpers import NOW

    live = rules(
        """
        rules: [{id: vp, contact: {title: VP}, points: 30}]
        exclude: {emails: [a@x.io]}
        """
    )
    shadow = rules(
        """
        rules: [{id: vp, contact: {title: VP}, points: 50}, {id: cto, contact: {title: CTO}, points: 60}]
        exclude: {contact: {opt_out: true}}
        """
    )
    people = [
        person("a", "a@x.io", title="CTO"),
        person("b", "b@x.io", title="CTO", opt_out="true"),
        person("c", "c@x.io", title="VP"),
        person("d", "d@x.io", title="CTO"),
    ]
    frame = ContactFrame.from_records(people)
    acts = ActivityFrame.from_records([], frame.ids)
    both = shadow.model_copy(update={"exclude": joined_exclusions(live.exclude, shadow.exclude)})
    live_batch, _ = score_included(live, frame, acts, NOW)
    shadow_batch, _ = score_included(both, frame, acts, NOW)
    assert shadow_batch.excluded_ids == ("a", "b")

    found = compare(live_batch, shadow_batch, name="s.yaml")

    assert found.people == 2  # c and d: a (live) and b (shadow) are in neither's ranks
    assert [m.person for m in found.movers] == ["c", "d"]
    alone = ContactFrame.from_records(people[2:3])  # d missing, and not excluded: refused
    other, _ = score_included(both, alone, ActivityFrame.from_records([], alone.ids), NOW)
    with pytest.raises(ValueError):
        compare(live_batch, other, name="s.yaml")
