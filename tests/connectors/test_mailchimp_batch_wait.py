"""Waiting for Mailchimp batches: reads timed by what the batches say of themselves (status,
operations done, `submitted_at`, `completed_at`), never by the time since a submission."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.batch import LONGEST_WAIT, Queue, wait

EPOCH = 1_790_000_000


def iso(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


@dataclass
class BatchQueue:
    """Mailchimp's queue as a model: batches run one at a time, each `delay` seconds after
    it was queued at the earliest, `pace` operations a second; a read is observed halfway
    through its round trip of `latency` seconds; Mailchimp's clock is `skew` behind ours."""

    delay: float
    pace: float
    latency: float = 0.25
    skew: float = 0.0
    at: float = 0.0
    queued: list[tuple[float, int]] = field(default_factory=list)
    reads: list[int] = field(default_factory=list)
    pending: int = 0
    """Reads that found a batch not started yet."""

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += seconds

    def ends(self) -> list[tuple[float, float]]:
        spans, free = [], 0.0
        for submitted, size in self.queued:
            begin = max(submitted + self.delay, free)
            free = begin + size / self.pace
            spans.append((begin, free))
        return spans

    def start(self, size: int) -> tuple[dict[str, Any], tuple[float, float]]:
        sent = self.at
        self.at += self.latency / 2
        self.queued.append((self.at, size))
        answer = {"id": str(len(self.queued) - 1), "submitted_at": iso(EPOCH + self.at - self.skew)}
        self.at += self.latency / 2
        return answer, (sent, self.at)

    def status(self, number: int) -> dict[str, Any]:
        self.reads.append(number)
        self.at += self.latency / 2
        begin, end = self.ends()[number]
        size = self.queued[number][1]
        info: dict[str, Any] = {"total_operations": size, "status": "pending"}
        self.pending += self.at < begin
        if self.at >= end:
            info.update(status="finished", finished_operations=size,
                        completed_at=iso(EPOCH + end - self.skew))  # fmt: skip
        elif self.at >= begin:
            info.update(status="started", finished_operations=int((self.at - begin) * self.pace))
        self.at += self.latency / 2
        return info


def run(model: BatchQueue, sizes: list[int], starting: float = 0.5) -> Queue:
    """Start every batch (each start taking `starting` seconds more), then wait for each
    in order, as `write_batched` does."""
    api = SimpleNamespace(policy=SimpleNamespace(clock=model))
    queue = Queue()
    times = []
    for size in sizes:
        answer, queued = model.start(size)
        model.at += starting
        queue.answered(answer, queued[1])
        times.append(queued)
    for number, size in enumerate(sizes):
        info = wait(api, lambda n=number: model.status(n), queue, None, times[number], size)  # type: ignore[arg-type]
        assert info["status"] == "finished"
    return queue


@pytest.mark.parametrize("starting", [0.0, 0.5, 3.0])
@pytest.mark.parametrize("delay", [0.5, 2.0, 30.0])
def test_eleven_batches_are_read_at_most_once_more_than_their_number(
    delay: float, starting: float
) -> None:
    model = BatchQueue(delay=delay, pace=1000.0)
    sizes = [10_000] * 10 + [700]

    queue = run(model, sizes, starting)

    # Mailchimp's wait before the first starts costs a read per doubling; beyond it, the
    # first batch is read twice at most and every other once
    assert model.pending <= int(max(0, delay // 2)).bit_length()
    assert len(model.reads) - model.pending <= len(sizes) + 1, model.reads
    assert model.reads.count(0) - model.pending <= 2
    assert queue.pace is not None and queue.pace <= 1000.0
    # no read waited much beyond the batches' own time
    end = model.ends()[-1][1]
    assert model.at <= end + 0.1 * (end - delay) + 3 * LONGEST_WAIT / 20 + 5


def test_a_pace_is_never_measured_from_the_submission() -> None:
    # a batch queued 30 s before it starts, then 10 s of work: the first read (2 s after
    # its start was answered) sees it pending; the pace measured is the running batch's
    model = BatchQueue(delay=30.0, pace=1000.0)

    queue = run(model, [10_000, 10_000])

    assert queue.pace == pytest.approx(1000.0, rel=0.15)
    assert model.reads.count(1) == 1


@settings(max_examples=60, deadline=None)
@given(
    delay=st.floats(0.0, 60.0),
    pace=st.floats(50.0, 5000.0),
    skew=st.floats(-3.0, 3.0),
    latency=st.floats(0.0, 1.0),
    sizes=st.lists(st.integers(1, 10_000), min_size=1, max_size=6),
)
def test_every_batch_is_waited_for_until_finished_without_a_sleep_past_its_end(
    delay: float, pace: float, skew: float, latency: float, sizes: list[int]
) -> None:
    model = BatchQueue(delay=delay, pace=pace, latency=latency, skew=skew)

    run(model, sizes)

    # the last read came soon after the last batch ended: never a long blind sleep (the
    # reads that look for the first start double their wait, so may pass it by as long)
    end = model.ends()[-1][1]
    work = sum(sizes) / pace
    search = min(delay + 2, LONGEST_WAIT)
    assert model.at <= end + search + 0.2 * work + 2 * len(sizes) * (1 + latency) + 2
