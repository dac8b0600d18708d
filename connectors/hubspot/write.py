"""Scores into HubSpot contacts: batch updates of 100, with per-record failures.

HubSpot's batch update answers 200 when every input landed and 207 with
`errors` (category, message, `context.ids`) when some did not; it refuses a
whole batch (400) for one unknown property or invalid value without saying
which record carries it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from connectors.errors import ApiError, RejectedError
from connectors.hubspot.client import TIMEOUT, HubSpotApi, named_problems
from connectors.hubspot.gone import find_gone
from connectors.protocol import Write, WriteFailure, WriteOutcome

BATCH = 100


def missing_property(refused: ApiError) -> bool:
    """Whether HubSpot refused a write for a property the portal does not have."""
    text = refused.detail
    return "PROPERTY_DOESNT_EXIST" in text or "does not exist" in text


def write_batch(api: HubSpotApi, writes: Sequence[Write]) -> WriteOutcome:
    """One batch update, halved while HubSpot refuses it whole; records HubSpot rejects
    inside a 207 are reported one by one.

    HubSpot refuses a whole batch (400) for one unknown property or invalid value
    without saying which record carries it. A refused batch is split in halves and
    each half written on its own, down to single records, so that only the records
    bad on their own fail and every good one lands: about 2 * log2(n) more calls per
    bad record. Retryable failures that outlast the call policy's retries propagate.
    """
    if len(writes) > BATCH:
        raise ValueError(f"at most {BATCH} records per HubSpot batch update")
    outcome = WriteOutcome()
    write_halving(api, list(writes), outcome, None)
    return outcome


def write_halving(
    api: HubSpotApi, writes: Sequence[Write], outcome: WriteOutcome, refused: RejectedError | None
) -> bool:
    """Write `writes` into `outcome` as one batch, or as halves if HubSpot refuses it.

    `refused` is HubSpot's refusal of these very records when it is already known,
    so no call is spent to hear it again. Answers whether the batch was taken whole
    (its records may still fail one by one inside a 207).
    """
    if not writes:
        return True
    if refused is None:
        try:
            taken = batch_update(api, writes)
        except RejectedError as error:
            refused = error
        else:
            outcome.written.extend(taken.written)
            outcome.failed.extend(taken.failed)
            outcome.stamps.extend(taken.stamps)
            outcome.gone.extend(taken.gone)
            return True
    if missing_property(refused):
        # Every record names the property, so halving would only spend calls: the fix
        # is `leadscore setup`, after which these writes may be tried again.
        outcome.failed.extend(WriteFailure(w.record_id, refused.detail, True) for w in writes)
        return False
    if len(writes) == 1:
        outcome.failed.append(WriteFailure(writes[0].record_id, refused.detail, False))
        return False
    middle = len(writes) // 2
    first, second = writes[:middle], writes[middle:]
    # HubSpot judges a batch by its records' values alone: when the first half is
    # taken, what it refused is in the second half, and its message is about those.
    first_taken = write_halving(api, first, outcome, None)
    write_halving(api, second, outcome, refused if first_taken else None)
    return False


def batch_update(api: HubSpotApi, writes: Sequence[Write]) -> WriteOutcome:
    """One batch update call; raises `RejectedError` when HubSpot refuses the batch whole."""
    from hubspot.crm.objects import (
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    body = BatchInputSimplePublicObjectBatchInput(
        inputs=[
            SimplePublicObjectBatchInput(id=w.record_id, properties=dict(w.values)) for w in writes
        ]
    )
    ids = [w.record_id for w in writes]
    answer = api.call(
        "contacts.batch_update",
        lambda: api.contacts_batch.update(
            batch_input_simple_public_object_batch_input=body, _request_timeout=TIMEOUT
        ),
    )
    failed: dict[str, WriteFailure] = {}
    unsure: list[str] = []
    not_found: list[str] = []
    for error in getattr(answer, "errors", None) or []:
        context = error.context or {}
        retryable = (error.category or "") not in ("VALIDATION_ERROR", "OBJECT_NOT_FOUND")
        reason = named_problems(error.message or "", getattr(error, "errors", None))
        for record in context.get("ids", []) or []:
            failed[str(record)] = WriteFailure(
                str(record), reason or error.message or "", retryable
            )
            if error.category == "OBJECT_NOT_FOUND":
                unsure.append(str(record))
                not_found.append(str(record))
    results = answer.results or []
    landed = {str(r.id) for r in results}
    for record in ids:
        if record not in landed and record not in failed:
            failed[record] = WriteFailure(record, "not in HubSpot's answer", True)
            unsure.append(record)
    # Missing or not found: merged away or deleted, or the write would be retried forever.
    gone = find_gone(api, unsure, not_found)
    # Each record's `updatedAt` is the stamp the write gave it: the next pull passes
    # over records whose last change is this one (see `pull.own_writes_filters`).
    stamps = [r.updated_at for r in results if isinstance(r.updated_at, datetime)]
    return WriteOutcome(
        [i for i in ids if i in landed and i not in failed],
        [f for i, f in failed.items() if i not in gone],
        [max(stamps)] if stamps else [],
        list(gone.values()),
    )
