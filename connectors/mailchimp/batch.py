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
- Waiting reads the batches in the order they run, each until finished: the first
  batch first after `FIRST_READ` seconds, then, while nothing moved, twice as long;
  once operations are seen done, as long as the pace measured says the rest needs
  (plus a tenth), at most `LONGEST_WAIT`; each later batch first after the time its
  operations need at that pace. So a run of k batches reads about k + 2 statuses
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
            ops.append(("tags", {"method": "POST", "path": member.path + "/tags", "body": body}))
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
    for batch in sent:
        try:
            batch.batch_id, batch.adopted = start(api, batch.operations, started)
            started.add(batch.batch_id)
        except (AuthError, BudgetExhausted):
            raise
        except ApiError as error:
            batch.failure = f"not written: the batch could not be started ({error})"
    pace: float | None = None
    limit = Deadline(api.policy.clock.now(), sum(len(b.operations) for b in sent))
    for batch in sent:  # Mailchimp runs them one after another, in this order
        if batch.batch_id is not None:
            first = len(batch.operations) / pace * 1.05 if pace else FIRST_READ
            limit.after -= len(batch.operations)
            batch.info, pace = wait(api, reader(api, batch), first, pace, limit)
    outcome = WriteOutcome()
    for batch in sent:
        results = read_results(api, batch)
        if batch.adopted and results and not batch.members.keys() & results.keys():
            results = start_again(api, batch, pace, limit)  # the batch found was not ours
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
    api: MailchimpApi, batch: Sent, pace: float | None, limit: Deadline
) -> dict[str, tuple[int, str]]:
    """Started once more, waited for and read: the batch adopted after a failed start held
    none of our operations (ours never reached Mailchimp; they are idempotent)."""
    batch.adopted = False
    try:
        batch.batch_id = str(
            api.call(START, {"operations": batch.operations}, repeatable=False)["id"]
        )
    except (AuthError, BudgetExhausted):
        raise
    except ApiError as error:
        batch.failure = f"not written: the batch could not be started ({error})"
        return {}
    first = len(batch.operations) / pace * 1.05 if pace else FIRST_READ
    batch.info, _ = wait(api, reader(api, batch), first, pace, limit)
    return read_results(api, batch)


def start(api: MailchimpApi, operations: list[dict[str, str]], ours: set[str]) -> tuple[str, bool]:
    """A batch started with `operations`: its id, and whether it is one found in Mailchimp's
    list after a lost answer (see the module's docstring on lost answers)."""
    body = {"operations": operations}
    since = vendor_time(api)
    try:
        return str(api.call(START, body, repeatable=False)["id"]), False
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


def wait(
    api: MailchimpApi,
    read_once: Callable[[], dict[str, Any]],
    first: float,
    pace: float | None,
    limit: Deadline | None = None,
) -> tuple[dict[str, Any], float | None]:
    """The batch as read once finished (or when the write's `limit` had passed), and the
    pace (operations a second) measured; `first`: seconds before the first read."""
    clock = api.policy.clock
    limit = limit or Deadline(clock.now(), 0)
    delay = first
    seen: tuple[float, int] | None = None
    while True:
        delay = min(delay, max(0.0, limit.until - clock.now()))
        if delay > 0:
            clock.sleep(delay)
        info = read_once()
        if info.get("status") == "finished":
            return info, pace
        total = int(finite_number(info.get("total_operations")) or 0)
        done, now = int(finite_number(info.get("finished_operations")) or 0), clock.now()
        if seen is not None and done > seen[1] and now > seen[0]:
            pace = (done - seen[1]) / (now - seen[0])
        limit.moved(now, max(0, total - done), pace)
        if now >= limit.until:
            return info, pace
        first_move = seen is None and done > 0
        if done > 0 and (seen is None or done > seen[1]):
            seen = (now, done)
        if pace:
            delay = (total - done) / pace * 1.1 + 0.5
        elif first_move:
            delay = FIRST_READ  # when it started is not said: its pace is measured from here
        else:
            delay = max(2 * delay, FIRST_READ)
        delay = min(delay, LONGEST_WAIT)


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
