"""Known record ids read back, a slice each run, to find deletions no pull reports.

A HubSpot privacy (GDPR) deletion removes the contact for good: it is in neither the live
nor the archived listing, so without the app webhook a pull never sees it, and a write
finds it only when the contact's score changes. Each sync run therefore reads back a slice
of the ids the store holds of each system that can (`connectors.protocol.ChecksKnown`),
and retires those gone through the same path as a pull's deletions (`sync.vanished`): a
privacy-deleted one for good, erasing the person it leaves with nothing.

The slice is sized so that every known id is read at least once per `days`: a run checks
the share of the ids that the time since the last check is of the period (a first check:
one day's share), at least one call's worth, from where the last slice stopped, in id
order, wrapping round at the end. Its calls are bounded by `max_calls` per system (a batch
read takes 100 ids); a slice the bound cuts is carried on by the next run, and the run's
summary warns that the period is not kept. Where the check is and when it was last made
are kept in the store's `meta` rows (`gone-check:<system>`), no schema change; erasing the
record a cursor stands on moves it to the id before (`rewind_cursors`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from connectors.errors import ApiError
from connectors.protocol import ChecksKnown, Connector, Gone
from sync.dues import meta_value, set_meta
from sync.schema import identities
from sync.vanished import record_gone
from sync.velocity import DAY_SECONDS

if TYPE_CHECKING:
    from sync.pipeline import Sync
    from sync.store import StateStore
    from sync.summary import SyncSummary

log = logging.getLogger("leadscore.sync")

PER_CALL = 100
"""Ids a batch read takes (HubSpot's batch read: 100 inputs)."""


@dataclass(frozen=True)
class GoneCheck:
    """How often the known ids are read back (`LEADSCORE_GONE_CHECK_DAYS`; 0: never) and
    the most calls a run spends on it per system (`LEADSCORE_GONE_CHECK_MAX_CALLS`)."""

    days: float = 7.0
    max_calls: int = 100


def meta_key(system: str) -> str:
    return f"gone-check:{system}"


def slice_size(known: int, since: float | None, check: GoneCheck) -> int:
    """How many of `known` ids a run checks, `since` seconds after the last check (None: a
    first check) under `check`: the time's share of the period, at least one call's worth,
    at most every id."""
    period = check.days * DAY_SECONDS
    elapsed = DAY_SECONDS if since is None else max(0.0, since)
    share = math.ceil(known * min(1.0, elapsed / period))
    return min(known, max(share, PER_CALL))


def next_slice(connection: sa.Connection, system: str, after: str | None, size: int) -> list[str]:
    """`size` of the system's known ids in id order, from the first after `after`, wrapping
    round to the first (never past `after` again)."""
    if size <= 0:
        return []
    ids = identities.c.record_id
    query = sa.select(ids).where(identities.c.system == system).order_by(ids)
    later = query if after is None else query.where(ids > after)
    taken = [str(r) for (r,) in connection.execute(later.limit(size))]
    if len(taken) < size and after is not None:
        again = query.where(ids <= after).limit(size - len(taken))
        taken += [str(r) for (r,) in connection.execute(again)]
    return taken


def retire_if_gone(
    store: StateStore, connector: Connector, record_id: str, at: datetime
) -> Gone | None:
    """A record its system no longer answers (a trigger's fetch found none): read back as
    the check reads it (HubSpot: live, then archived) and, when gone, retired through the
    pull's path (for good when deleted for good); None when the store does not hold it, the
    system cannot say, or has it after all."""
    if not isinstance(connector, ChecksKnown):
        return None
    with store.engine.connect() as connection:
        held = connection.execute(
            sa.select(identities.c.record_id).where(
                identities.c.system == connector.system, identities.c.record_id == record_id
            )
        ).first()
    if held is None:  # an id the store never held: nothing to retire, and no call spent
        return None
    found = [g for g in connector.gone_among([record_id]) if g.record_id == record_id]
    if not found:
        return None
    gone = found[0]
    erased = {gone.record_id} if gone.for_good else set()
    record_gone(store, connector.system, [(gone.record_id, gone.merged_into)], at, (), erased)
    return gone


def rewind_cursors(connection: sa.Connection, records: Iterable[tuple[str, str]]) -> None:
    """Move a check's cursor off a record being erased (`sync.erasure`, in its transaction,
    after the identities went): to the greatest id before it the store still holds, or to
    the start when none is. The next slice is the same, and no record id erased stays in
    `meta`."""
    erased: dict[str, set[str]] = {}
    for system, record in records:
        erased.setdefault(system, set()).add(record)
    for system, ids in sorted(erased.items()):
        kept = json.loads(meta_value(connection, meta_key(system)) or "{}")
        after = kept.get("after")
        if after not in ids:
            continue
        column = identities.c.record_id
        before = connection.execute(
            sa.select(sa.func.max(column)).where(identities.c.system == system, column < after)
        ).scalar()
        if before is None:
            del kept["after"]
        else:
            kept["after"] = str(before)
        set_meta(connection, meta_key(system), json.dumps(kept))


def check_known(job: Sync, summary: SyncSummary, as_of: datetime, check: GoneCheck) -> None:
    """Read back this run's slice of every checking system's known ids; retire the gone."""
    if check.days <= 0:
        return
    for connector in job.connectors:
        if not isinstance(connector, ChecksKnown):
            continue
        system = connector.system
        with job.store.engine.connect() as connection:
            count = sa.select(sa.func.count()).where(identities.c.system == system)
            known = int(connection.execute(count).scalar() or 0)
            kept = json.loads(meta_value(connection, meta_key(system)) or "{}")
            last = kept.get("at")
            since = None if last is None else as_of.timestamp() - float(last)
            # what the last run's bound left over is owed on top of this run's share
            due = min(known, slice_size(known, since, check) + int(kept.get("owed", 0)))
            bound = max(1, check.max_calls // 2) * PER_CALL  # a live read, at worst an archived
            if due > bound:
                note = (
                    f"{system}: {due} known ids were due to be read back for deletions and "
                    f"{bound} were (LEADSCORE_GONE_CHECK_MAX_CALLS); the next run goes on, so "
                    f"some wait longer than {check.days:g} days"
                )
                summary.warnings.append(note)
                log.warning(note, extra={"system": system})
            chosen = next_slice(connection, system, kept.get("after"), min(due, bound))
        before = sum(connector.calls().values())
        try:
            gone = connector.gone_among(chosen) if chosen else []
        except ApiError as exc:  # the run goes on; the next one reads this slice again
            note = f"{system}: the check of known records for deletions failed: {exc}"
            summary.warnings.append(note)
            log.warning(note, extra={"system": system})
            continue
        calls = sum(connector.calls().values()) - before
        if gone:
            reported = [(g.record_id, g.merged_into) for g in gone]
            erased = {g.record_id for g in gone if g.for_good}
            record_gone(job.store, system, reported, as_of, (), erased)
        state = {
            "after": chosen[-1] if chosen else kept.get("after"),
            "at": as_of.timestamp(),
            "owed": max(0, due - len(chosen)),
        }
        with job.store.writing(), job.store.engine.begin() as connection:
            set_meta(connection, meta_key(system), json.dumps(state))
        summary.checked[system] = {"checked": len(chosen), "gone": len(gone), "calls": calls}
        if gone:
            log.info(
                "known records found gone",
                extra={"system": system, "gone": len(gone), "checked": len(chosen)},
            )
