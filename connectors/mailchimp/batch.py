"""Member writes as Mailchimp batch operations: started, waited for, their results read.

`POST /batches` takes `{operations: [{method, path, body (a JSON string),
operation_id}]}` and answers the batch (`id`, `status`: pending, preprocessing,
started, finalizing, finished; `total_operations`, `finished_operations`,
`errored_operations`, `response_body_url`); `GET /batches/{batch_id}` reads it; once
finished, `response_body_url` is a gzipped tar of JSON files, each an array of
`{status_code, operation_id, response}` (guide "Run async requests with the batch
endpoint", https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/;
the older https://developer.mailchimp.com/documentation/mailchimp/guides/how-to-use-batch-operations/).
Mailchimp runs one batch at a time (SDK docstring of `batches.delete_request`: "only
one batch request is run at a time") and documents no largest batch; we send at most
`BATCH_OPERATIONS` operations a batch (our choice: a body of a few MB, sent well
within the 120-second timeout), a member's operations always in one batch.

- A start is not repeatable: Mailchimp would run the operations twice. It is sent
  with `repeatable=False` (tried again only after a 429). When its answer is lost (a
  5xx, a dropped connection), the batches Mailchimp lists (`GET /batches`, one call)
  are searched for one holding as many operations, submitted since this start (its
  `submitted_at` against the time of the start, `vendor_time`, less `SUBMIT_SLACK`
  seconds for the two clocks' difference: a full batch always
  has `BATCH_OPERATIONS`, so the size alone would name an older one), that this write
  did not start already; found, it is followed, and when its results name none of our
  operation ids (they carry a token of this write: the batch was someone else's and
  ours never reached Mailchimp) ours is started once more; not found, the batch is
  started once more (our operations are idempotent: the same merge values and tag
  states twice change nothing). A second failure leaves its members to the next run.
  A listed batch without id, count or time is passed over and counted.
- Waiting reads the batches in the order they run, each until finished, and times its
  reads by what the batches say of themselves, never by the time since a submission
  (which holds Mailchimp's unstated wait before a batch starts): `status` (pending,
  preprocessing, started, finalizing, finished), `finished_operations` of
  `total_operations`, `submitted_at` and `completed_at` (whole seconds, Mailchimp's
  clock; ours is mapped to it by the start answers: a start's answer comes after its
  `submitted_at`, so the least gap between the two bounds the clocks' difference). The
  pace (operations a second) is measured only while a batch runs: between two reads that
  saw it move, from a read that saw it move to its `completed_at`, or from one batch's
  `completed_at` to the next's when the next was queued behind it (Mailchimp then starts
  it as the other ends). Each measure is taken so that it can only err slow (reads placed
  late rather than early). The first batch is read after `FIRST_READ` seconds; while
  nothing has moved, then after twice as long. A read that sees it run, with no pace yet,
  bounds what is left by the moment it was last seen idle (the remaining share at the
  pace of the part done since then): that read is followed by one after the bound when
  the bound is no longer than the time since then, else by a read that measures the pace.
  Once a pace is known, a batch queued behind a finished one is read once, when its
  operations should be done (a twentieth and `READ_SLACK` beyond), and a running one
  when its operations left should be. So a run of k batches reads about k + 1 statuses
  against the k the fewest would be. The write waits `WRITE_GRACE` seconds beyond what
  the pace measured says its operations left need (`WRITE_GRACE` from its start while
  nothing moved), never more than `WRITE_GIVE_UP` seconds in all: one deadline for all
  its batches, so a stalled batch queue holds a run an hour at most. Then the batches
  not finished are left running (they may still land, and are harmless) and their
  members are failures, retryable, kept for the next run.
- The archive is read safely: only regular files, at most `MOST_ARCHIVE` bytes
  downloaded and `MOST_FILE` per file unpacked, no path used, bad JSON a clear error
  (`TransportError`, its batch's members kept for the next run).
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ApiError, AuthError, BudgetExhausted, TransportError
from connectors.mailchimp.client import MailchimpApi, problem_message
from connectors.mailchimp.keys import MC
from connectors.mailchimp.write import MemberWrite, settle, stamp_of
from connectors.protocol import WriteFailure, WriteOutcome
from connectors.values import finite_number, parse_time

log = logging.getLogger(__name__)

START = "batches.start"
STATUS = "batches.status"
LIST = "batches.list"
BATCH_OPERATIONS = 10_000
FIRST_READ = 2.0
READ_SLACK = 1.0
"""Seconds a read waits beyond a predicted end: Mailchimp's times are whole seconds."""
WHOLE_SPAN = 5.0
"""Fewest seconds a pace is measured over from Mailchimp's times (a fifth off at most)."""
TRUST = 3.0
"""A bound on a running batch's time left is slept on when it is at most this many times
the time since the batch was last seen idle (a quarter of it done), else its pace is
measured first."""
LONGEST_WAIT = 60.0
WRITE_GRACE = 20 * 60.0
WRITE_GIVE_UP = 3600.0
SUBMIT_SLACK = 120.0
MOST_ARCHIVE = 512 * 1024 * 1024
MOST_FILE = 256 * 1024 * 1024


@dataclass
class Sent:
    """One batch of ours: its operations' members, and what Mailchimp said of it."""

    members: dict[str, tuple[MemberWrite, str]]
    """operation id -> (member, "merge" or "tags")."""
    operations: list[dict[str, str]]
    batch_id: str | None = None
    adopted: bool = False
    """Found in Mailchimp's list after a start whose answer was lost."""
    info: dict[str, Any] = field(default_factory=dict)
    failure: str | None = None
    queued: tuple[float, float] | None = None
    """Our clock's times its start was sent and answered (it was queued by then)."""


def operations_of(members: Sequence[MemberWrite], token: str) -> list[Sent]:
    """The batches of `members`: a PATCH of its merge fields each, and its tag change."""
    batches: list[Sent] = [Sent({}, [])]
    for n, member in enumerate(members):
        ops: list[tuple[str, dict[str, str]]] = [
            ("merge", {"method": "PATCH", "path": member.path,
                       "body": json.dumps({"merge_fields": dict(member.merge_fields)})}),
        ]  # fmt: skip
        if member.tags is not None:
            body = json.dumps({"tags": member.tags})
            ops.append(("tags", {"method": "POST", "path": member.tags_path, "body": body}))
        if len(batches[-1].operations) + len(ops) > BATCH_OPERATIONS:
            batches.append(Sent({}, []))
        for kind, op in ops:
            op_id = f"ls-{token}-{kind[0]}{n}"
            batches[-1].operations.append({**op, "operation_id": op_id})
            batches[-1].members[op_id] = (member, kind)
    return [b for b in batches if b.operations]


def write_batched(api: MailchimpApi, members: Sequence[MemberWrite]) -> WriteOutcome:
    """Every member write in batches, started, waited for and read; what landed."""
    token = uuid.uuid4().hex[:10]
    sent = operations_of(members, token)
    started: set[str] = set()
    queue = Queue()
    for batch in sent:
        sending = api.policy.clock.now()
        try:
            batch.batch_id, batch.adopted = start(api, batch.operations, started, queue)
            batch.queued = (sending, api.policy.clock.now())
            started.add(batch.batch_id)
        except (AuthError, BudgetExhausted):
            raise
        except ApiError as error:
            batch.failure = f"not written: the batch could not be started ({error})"
    limit = Deadline(api.policy.clock.now(), sum(len(b.operations) for b in sent))
    for batch in sent:  # Mailchimp runs them one after another, in this order
        if batch.batch_id is not None:
            limit.after -= len(batch.operations)
            size = len(batch.operations)
            batch.info = wait(api, reader(api, batch), queue, limit, batch.queued, size)
    outcome = WriteOutcome()
    for batch in sent:
        results = read_results(api, batch)
        if batch.adopted and results and not batch.members.keys() & results.keys():
            results = start_again(api, batch, queue, limit)  # the batch found was not ours
        settle_batch(outcome, batch, results)
    return outcome


@dataclass
class Deadline:
    """When a write stops waiting for its batches: `WRITE_GRACE` seconds beyond what the
    pace measured says its operations not yet done need (`WRITE_GRACE` from its start while
    no pace is known), never later than `WRITE_GIVE_UP` seconds from its start."""

    begin: float
    after: int
    """Operations in the batches after the one waited for."""
    until: float = 0.0

    def __post_init__(self) -> None:
        self.until = self.begin + WRITE_GRACE

    def moved(self, now: float, left: int, pace: float | None) -> None:
        """`left` operations of the batch waited for not done at `now`, at `pace`."""
        if pace:
            self.until = now + (left + self.after) / pace + WRITE_GRACE
        self.until = min(self.until, self.begin + WRITE_GIVE_UP)


def read_results(api: MailchimpApi, batch: Sent) -> dict[str, tuple[int, str]]:
    """A batch's results; none, and its failure said, when they could not be read."""
    if batch.failure is not None:
        return {}
    if batch.info.get("status") != "finished":
        batch.failure = (
            "not written yet: Mailchimp had not finished the batch when this write stopped "
            "waiting for it (its batch queue was slow); left running, tried again next run"
        )
        return {}
    try:
        return batch_results(api, batch)
    except (AuthError, BudgetExhausted):
        raise
    except ApiError as error:
        batch.failure = f"not written: the batch's results could not be read ({error})"
    return {}


def start_again(
    api: MailchimpApi, batch: Sent, queue: Queue, limit: Deadline
) -> dict[str, tuple[int, str]]:
    """Started once more, waited for and read: the batch adopted after a failed start held
    none of our operations (ours never reached Mailchimp; they are idempotent)."""
    batch.adopted = False
    sending = api.policy.clock.now()
    try:
        answer = api.call(START, {"operations": batch.operations}, repeatable=False)
        batch.batch_id = str(answer["id"])
    except (AuthError, BudgetExhausted):
        raise
    except ApiError as error:
        batch.failure = f"not written: the batch could not be started ({error})"
        return {}
    batch.queued = (sending, api.policy.clock.now())
    queue.answered(answer, batch.queued[1])
    size = len(batch.operations)
    batch.info = wait(api, reader(api, batch), queue, limit, batch.queued, size)
    return read_results(api, batch)


def start(
    api: MailchimpApi, operations: list[dict[str, str]], ours: set[str], queue: Queue | None = None
) -> tuple[str, bool]:
    """A batch started with `operations`: its id, and whether it is one found in Mailchimp's
    list after a lost answer (see the module's docstring on lost answers)."""
    body = {"operations": operations}
    since = vendor_time(api)
    try:
        answer = api.call(START, body, repeatable=False)
        if queue is not None:
            queue.answered(answer, api.policy.clock.now())
        return str(answer["id"]), False
    except (AuthError, BudgetExhausted):
        raise
    except ApiError as error:
        if error.status is not None and error.status < 500:
            raise
    found = find_started(api, len(operations), ours, since)
    if found is not None:
        return found, True
    return str(api.call(START, body, repeatable=False)["id"]), False


def vendor_time(api: MailchimpApi) -> float:
    """Epoch seconds now as Mailchimp's clock reads them: the clock's `wall()` where it has
    one (an emulator's vendor time), else the system's UTC clock (`time.time`)."""
    wall = getattr(api.policy.clock, "wall", None)
    return float(wall()) if callable(wall) else time.time()


def find_started(
    api: MailchimpApi, size: int, ours: set[str], since: float, skipped: Counter[str] | None = None
) -> str | None:
    """The newest listed batch of `size` operations submitted at or after `since` (epoch
    seconds, less `SUBMIT_SLACK` for the two clocks) that is not one of `ours`; a listed
    batch without id, count or submission time is passed over and counted in `skipped`."""
    counts: Counter[str] = Counter() if skipped is None else skipped
    data = api.call(LIST, count=1000)
    listed = data.get("batches") if isinstance(data, Mapping) else None
    found: list[tuple[float, str]] = []
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, Mapping):
            counts["batch"] += 1
            continue
        ident, total = item.get("id"), finite_number(item.get("total_operations"))
        at = parse_time(item.get("submitted_at"))
        if not isinstance(ident, str) or not ident or total is None or at is None:
            counts["batch"] += 1
            continue
        if total == size and at.timestamp() >= since - SUBMIT_SLACK and ident not in ours:
            found.append((at.timestamp(), ident))
    if counts["batch"]:
        log.warning("%d of the batches Mailchimp listed were not readable", counts["batch"])
    return max(found)[1] if found else None


def reader(api: MailchimpApi, batch: Sent) -> Callable[[], dict[str, Any]]:
    """One status read of `batch`."""
    return lambda: api.call(STATUS, batch.batch_id)


@dataclass
class Queue:
    """What a write learned of Mailchimp's batch queue: the pace a running batch keeps
    (operations a second), when the batch last read finished (Mailchimp's clock, epoch
    seconds), and how far our clock is ahead of Mailchimp's at most."""

    pace: float | None = None
    free: float | None = None
    ahead: float | None = None
    floor: float | None = None
    """A pace a batch kept at least (a bound, from when it was last seen idle), until one
    is measured."""

    def answered(self, answer: Mapping[str, Any], at: float) -> None:
        """A start's answer, read at `at` (our clock): it came after its `submitted_at`."""
        submitted = parse_time(answer.get("submitted_at")) if isinstance(answer, Mapping) else None
        if submitted is not None:
            gap = at - submitted.timestamp()
            self.ahead = gap if self.ahead is None else min(self.ahead, gap)

    def ours(self, moment: float | None) -> float | None:
        """A moment of Mailchimp's clock on ours, not before it (less `READ_SLACK`)."""
        return None if moment is None or self.ahead is None else moment + self.ahead

    def measured(self, operations: int, seconds: float, whole: bool = False) -> None:
        """`operations` run in `seconds` at most; `whole`: measured on Mailchimp's whole
        seconds, so taken only over `WHOLE_SPAN` seconds or more."""
        if operations > 0 and seconds > (WHOLE_SPAN if whole else 0.0):
            self.pace = operations / seconds


def wait(
    api: MailchimpApi,
    read_once: Callable[[], dict[str, Any]],
    queue: Queue,
    limit: Deadline | None = None,
    queued: tuple[float, float] | None = None,
    size: int = 0,
) -> dict[str, Any]:
    """The batch of `size` operations as read once finished (or when the write's `limit`
    had passed); `queue` learns its pace. `queued`: when its start was sent and answered
    (our clock): not running before the one, queued by the other."""
    clock = api.policy.clock
    limit = limit or Deadline(clock.now(), 0)
    free = queue.ours(queue.free)
    # Queued before the batch read last ended: it began as that one ended.
    begin = free if free is not None and queued is not None and queued[1] <= free else None
    idle = begin if begin is not None else queued[0] if queued else None
    # `idle`: when it was last known not running yet (our clock)
    first: tuple[float, int] | None = None  # (our time a read was sent, operations done)
    last: tuple[float, int] | None = None
    delay = FIRST_READ
    rate = queue.pace or queue.floor
    if begin is not None and rate and size:
        delay = begin + size / rate * 1.05 + READ_SLACK - clock.now()
    while True:
        delay = min(delay, LONGEST_WAIT, max(0.0, limit.until - clock.now()))
        if delay > 0:
            clock.sleep(delay)
        sent = clock.now()
        info = read_once()
        now = clock.now()
        total = int(finite_number(info.get("total_operations")) or 0)
        done = int(finite_number(info.get("finished_operations")) or 0)
        if info.get("status") == "finished":
            learn(queue, info, total, begin, first)
            return info
        if done > 0 and last is not None and done > last[1]:
            queue.measured(done - last[1], now - last[0])  # slow, if anything: sent to read
        limit.moved(now, max(0, total - done), queue.pace)
        if now >= limit.until:
            return info
        if done <= 0:  # pending or preprocessing: not running yet
            idle, delay = sent, max(2 * delay, FIRST_READ)
            continue
        if last is None or done > last[1]:
            first, last = first or (sent, done), (sent, done)
        if queue.pace:
            delay = (total - done) / queue.pace * 1.05 + READ_SLACK
        elif idle is not None and now > idle:
            # what is left at the pace of the part done since it was last seen idle: a
            # bound (it may have started later), trusted with a quarter done at least
            bound = max(0, total - done) * (now - idle) / done
            delay = bound * 1.05 + READ_SLACK if bound <= TRUST * (now - idle) else FIRST_READ
            queue.floor = done / (now - idle)
        else:
            delay = FIRST_READ


def learn(
    queue: Queue,
    info: Mapping[str, Any],
    total: int,
    begin: float | None,
    first: tuple[float, int] | None,
) -> None:
    """A finished batch's pace, from its own fields: since the batch before it ended when
    it was queued behind that one (same clock, whole seconds: one more counted), else since
    a read saw it run; and when it ended, where the next begins."""
    completed = parse_time(info.get("completed_at"))
    ended = None if completed is None else completed.timestamp()
    if ended is not None and begin is not None and queue.free is not None:
        queue.measured(total, ended - queue.free + READ_SLACK, whole=True)
    elif ended is not None and first is not None and queue.ahead is not None:
        queue.measured(total - first[1], ended + queue.ahead + READ_SLACK - first[0], whole=True)
    queue.free = ended


def batch_results(api: MailchimpApi, batch: Sent) -> dict[str, tuple[int, str]]:
    """operation id -> (status code, response text) of a finished batch's archive."""
    if batch.info.get("status") != "finished":
        raise TransportError(MC, STATUS, "the batch did not finish in time")
    url = str(batch.info.get("response_body_url") or "")
    if not url:
        raise TransportError(MC, STATUS, "a finished batch without response_body_url")
    return parse_archive(api.download(url))


def parse_archive(data: bytes) -> dict[str, tuple[int, str]]:
    """The results in a batch's tar.gz: every JSON file's `[{status_code, operation_id,
    response}]`; a bad archive or JSON is a `TransportError`."""
    operation = "batches.download"
    if len(data) > MOST_ARCHIVE:
        raise TransportError(MC, operation, "the batch's results archive is too large")
    results: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                if member.size > MOST_FILE:
                    raise TransportError(MC, operation, f"{member.name} is too large")
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                for entry in json.loads(handle.read(MOST_FILE + 1)):
                    op_id = str(entry.get("operation_id") or "")
                    response = entry.get("response")
                    text = response if isinstance(response, str) else json.dumps(response)
                    results[op_id] = (int(entry.get("status_code") or 0), text)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise TransportError(
            MC, operation, f"unreadable archive ({type(error).__name__})"
        ) from None
    except (ValueError, TypeError, AttributeError):
        raise TransportError(MC, operation, "the results are not the JSON expected") from None
    return results


def settle_batch(outcome: WriteOutcome, batch: Sent, results: dict[str, tuple[int, str]]) -> None:
    """Each member of the batch by its operations' results: both must have landed."""
    by_member: dict[str, dict[str, tuple[int, str]]] = {}
    members: dict[str, MemberWrite] = {}
    for op_id, (member, kind) in batch.members.items():
        members[member.record_id] = member
        found = results.get(op_id)
        if found is not None:
            by_member.setdefault(member.record_id, {})[kind] = found
    for record_id, member in members.items():
        got = by_member.get(record_id, {})
        if batch.failure is not None or "merge" not in got:
            why = batch.failure or "not in the batch's results"
            outcome.failed.append(WriteFailure(record_id, why))
            continue
        status, text = got["merge"]
        if 200 <= status < 300 and member.tags is not None:
            if "tags" not in got:
                outcome.failed.append(WriteFailure(record_id, "tags not in the batch's results"))
                continue
            tag_status, tag_text = got["tags"]
            if tag_status == 404:  # its merge fields landed: its address changed since
                why = "its stage tag was not set: its address changed since the pull"
                outcome.failed.append(WriteFailure(record_id, why))
                continue
            if not 200 <= tag_status < 300:
                status, text = tag_status, tag_text
        settle(outcome, member, status, problem_message(status, text))
        if 200 <= status < 300:
            stamp_of(outcome, changed_of(text))


def changed_of(text: str) -> str | None:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    return str(data.get("last_changed") or "") or None if isinstance(data, dict) else None
