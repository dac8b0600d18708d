"""`leadscore export`: everything the state store holds about the person of an address, as
one JSON document (the right of access).

It reads what `sync.erasure` would delete, found the same way (`holdings`): their records
with the attributes last pulled from each system, records merged into theirs, former
addresses, activities, the values last written to each record, failed writes, queued
rescores and their score history. Keys are sorted and lists ordered, so the same store gives
the same text; moments are ISO-8601 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sync.erasure import Holdings, holdings
from sync.handover_schema import handover_waiting, handovers
from sync.history import history_of
from sync.run_tables import write_log
from sync.schema import activities, aliases, failures, gone, identities, queue, written
from sync.store import StateStore

FORMAT = 1
"""The version of the export's shape."""


def _moment(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(float(seconds), UTC).isoformat().replace("+00:00", "Z")


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _rows(connection: sa.Connection, table: sa.Table, where: sa.ColumnElement[bool]) -> list[Any]:
    return list(connection.execute(sa.select(table).where(where)).all())


def export_person(store: StateStore, address: str) -> dict[str, Any] | None:
    """Everything the store holds of the person of `address`; None when it holds nothing.
    Rows keyed by the address alone (activities, a record's former address) are held of it
    too, with no person or record: the erasure deletes them, so the export reads them."""
    with store.engine.connect() as connection:
        held = holdings(connection, address)
        document = _document(connection, held)
        if not held.found and not (document["activities"] or document["former_addresses"]):
            return None
        return document


def _document(connection: sa.Connection, held: Holdings) -> dict[str, Any]:
    records = [
        {
            "system": r.system,
            "record_id": r.record_id,
            "email": r.email,
            "attributes": _json(r.attributes),
            "pulled_at": _moment(r.pulled_at),
        }
        for r in _rows(connection, identities, held.record_clause(identities))
    ]
    merged = [
        {
            "system": r.system,
            "record_id": r.record_id,
            "merged_into": r.merged_into,
            "reported_at": _moment(r.reported_at),
        }
        for r in _rows(connection, gone, held.gone_clause())
    ]
    former = [
        {"system": r.system, "email": r.email, "record_id": r.record_id, "since": _moment(r.since)}
        for r in _rows(connection, aliases, held.alias_clause())
    ]
    done = [
        {
            "system": r.system,
            "activity_id": r.activity_id,
            "record_id": r.record_id,
            "email": r.email,
            "type": r.type,
            "occurred_at": _moment(r.occurred_at),
            "url": r.url,
            "campaign": r.campaign,
            "form": r.form,
            "amount": r.amount,
            "attributes": _json(r.extra),
        }
        for r in _rows(connection, activities, held.activity_clause())
    ]
    values = [
        {
            "system": r.system,
            "record_id": r.record_id,
            "values": _json(r.values),
            "written_at": _moment(r.written_at),
        }
        for r in _rows(connection, written, held.record_clause(written))
    ]
    logged = [
        {
            "system": r.system,
            "record_id": r.record_id,
            "values": _json(r.written_values),
            "written_at": _moment(r.written_at),
            "run_id": r.run_id,
            "rules": r.rules_version,
        }
        for r in _rows(connection, write_log, held.record_clause(write_log))
    ]
    failed = [
        {
            "system": r.system,
            "record_id": r.record_id,
            "reason": r.reason,
            "retryable": bool(r.retryable),
            "attempts": int(r.attempts),
            "failed_at": _moment(r.failed_at),
            "attempted": _json(r.attempted),
        }
        for r in _rows(connection, failures, held.record_clause(failures))
    ]
    queued = [
        {"system": r.system, "record_id": r.record_id, "queued_at": _moment(r.queued_at)}
        for r in _rows(connection, queue, held.record_clause(queue))
    ]
    scores = [
        {
            "at": _moment(e.at.timestamp()),
            "score": e.score,
            "dimensions": e.dimensions,
            "stage": e.stage,
            "grade": e.grade,
            "rules": e.rules,
        }
        for e in (history_of(connection, held.person) if held.person is not None else [])
    ]

    person = [] if held.person is None else [held.person]
    handed = [
        {"period": r.period, "by": r.team, "at": _moment(r.at), "score": r.score}
        for r in _rows(connection, handovers, handovers.c.person_id.in_(person))
    ]
    waits = [
        {"by": r.team, "since": _moment(r.since), "score": r.score}
        for r in _rows(connection, handover_waiting, handover_waiting.c.person_id.in_(person))
    ]

    def ordered(items: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
        return sorted(items, key=lambda item: tuple(str(item.get(k) or "") for k in keys))

    return {
        "format": FORMAT,
        "email": held.address,
        "records": ordered(records, "system", "record_id"),
        "merged_records": ordered(merged, "system", "record_id"),
        "former_addresses": ordered(former, "system", "email"),
        "activities": ordered(done, "occurred_at", "system", "activity_id"),
        "written": ordered(values, "system", "record_id"),
        "write_log": ordered(logged, "written_at", "system", "record_id"),
        "failures": ordered(failed, "system", "record_id"),
        "queued": ordered(queued, "system", "record_id"),
        "history": ordered(scores, "at"),
        "handover": handed,
        "handover_waiting": waits,
    }


def export_text(document: dict[str, Any]) -> str:
    """The export as JSON text: sorted keys, two-space indents, a closing newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
