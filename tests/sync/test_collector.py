"""The garbage collector held to fewer passes while a run makes objects in bulk, and given
back as it was found."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.protocol import Page
from sandbox import Sandbox
from scoring import load_rules
from sync import StateStore, SyncOptions
from sync.collector import COLLECTOR_THRESHOLDS, fewer_collections
from tests.sync.test_sync_hubspot import RULES, make_sync


@pytest.fixture
def collector() -> Iterator[tuple[int, int, int]]:
    """The thresholds before the test; put back (and nothing left frozen) after it."""
    before = gc.get_threshold()
    yield before
    gc.unfreeze()
    gc.set_threshold(*before)


def test_the_collector_is_given_back_as_it_was_found(collector: tuple[int, int, int]) -> None:
    gc.set_threshold(500, 7, 3)

    with fewer_collections():
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what was made before is left out of its passes

    assert gc.get_threshold() == (500, 7, 3)
    assert gc.get_freeze_count() == 0


def test_nested_blocks_give_it_back_only_when_the_outer_one_ends(
    collector: tuple[int, int, int],
) -> None:
    with fewer_collections():
        frozen = gc.get_freeze_count()
        with fewer_collections():
            assert gc.get_threshold() == COLLECTOR_THRESHOLDS
            assert gc.get_freeze_count() <= frozen  # frozen once, by the outer block
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS  # the outer block still runs
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == collector


def test_overlapping_blocks_in_threads_give_it_back_when_the_last_ends(
    collector: tuple[int, int, int],
) -> None:
    entered, release = threading.Event(), threading.Event()

    def other() -> None:
        with fewer_collections():
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    with fewer_collections():
        thread.start()
        assert entered.wait(10)
    assert gc.get_threshold() == COLLECTOR_THRESHOLDS  # the thread's block is still open
    release.set()
    thread.join(10)
    assert gc.get_threshold() == collector and gc.get_freeze_count() == 0


def test_objects_another_froze_stay_frozen(collector: tuple[int, int, int]) -> None:
    gc.freeze()  # as a serverless instance's first answer does (`sync.entry.warmed`)
    frozen = gc.get_freeze_count()

    with fewer_collections():
        assert gc.get_threshold() == COLLECTOR_THRESHOLDS

    assert gc.get_freeze_count() > frozen - 1000 > 0  # (a few freed since, not unfrozen)
    assert gc.get_threshold() == collector


def test_automatic_collection_turned_off_stays_off(collector: tuple[int, int, int]) -> None:
    gc.set_threshold(0)

    with fewer_collections():
        assert gc.get_threshold()[0] == 0

    assert gc.get_threshold()[0] == 0


def test_a_failing_block_still_gives_it_back(collector: tuple[int, int, int]) -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the vendor went away")
    assert gc.get_threshold() == collector and gc.get_freeze_count() == 0


def test_a_sync_pulls_with_fewer_collections_and_gives_them_back(
    collector: tuple[int, int, int], tmp_path: Path
) -> None:
    seen: list[tuple[int, int, int]] = []
    with Sandbox(people=20, seed=3) as box:
        store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
        job = make_sync(box, load_rules(RULES), store)
        (connector,) = job.connectors
        pull = connector.pull

        def watched(stream: str, cursor: str | None) -> Iterator[Page]:
            seen.append(gc.get_threshold())
            return pull(stream, cursor)

        connector.pull = watched  # type: ignore[method-assign]
        summary: Any = job.run(SyncOptions(full=True))
        store.close()

    assert summary.systems["hubspot"].written > 0
    assert seen and set(seen) == {COLLECTOR_THRESHOLDS}
    assert gc.get_threshold() == collector and gc.get_freeze_count() == 0
