"""Scores into Leads and Contacts: sObject Collections updates of 200, per-record results.

`PATCH /composite/sobjects` with `allOrNone: false` (REST API Developer Guide,
"Update Multiple Records with Fewer Round-Trips"): up to 200 records, each with
`attributes.type` and `id`; a well-formed request answers 200 with one SaveResult
per record, in order, each `success` or its `errors` (statusCode, message,
fields). Values go in the JSON type of their field (a number, a boolean, null to
clear), by the object's describe.

- UNABLE_TO_LOCK_ROW (another transaction holds the record, a trigger or a mass
  update, for seconds) is tried again, twice, in a call of its own after
  `LOCK_WAIT` and then twice that many seconds, then left to the next run;
- a converted Lead (CANNOT_UPDATE_CONVERTED_LEAD, or known converted from the
  pull) is never written: it is `Gone`, merged into its Contact, which is scored
  in its place;
- a deleted or merged-away record (ENTITY_IS_DELETED) is `Gone`, merged into its
  MasterRecordId (read through queryAll) when a merge deleted it;
- a field the org lacks or hides (INVALID_FIELD, INVALID_FIELD_FOR_INSERT_UPDATE)
  waits for `leadscore setup`; a value refused (a validation rule, a wrong type,
  text too long) is not retried.

The lifecycle field (Lead Status) is a Lead's only: a Contact's write leaves it out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring_ascii as quoted
from typing import Any

from connectors.errors import ApiError
from connectors.protocol import Gone, Write, WriteFailure, WriteOutcome
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.records import KEY_PREFIXES, sobject_of
from connectors.salesforce.soql import select, soql_ids

COLLECTION = 200
LOCK_RETRIES = 2
LOCK_WAIT = 2.0
"""Seconds before locked rows are tried again the first time (doubled the second)."""
LIFECYCLE = "Status"
LOCKED = "UNABLE_TO_LOCK_ROW"
CONVERTED = "CANNOT_UPDATE_CONVERTED_LEAD"
DELETED = "ENTITY_IS_DELETED"
AFTER_SETUP = frozenset(
    {"INVALID_FIELD", "INVALID_FIELD_FOR_INSERT_UPDATE", "INVALID_FIELD_FOR_UPDATE"}
)
REFUSED_VALUES = frozenset({
    "FIELD_CUSTOM_VALIDATION_EXCEPTION", "INVALID_TYPE_ON_FIELD_IN_RECORD", "STRING_TOO_LONG",
    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "NUMBER_OUTSIDE_VALID_RANGE", "MALFORMED_ID",
    "INVALID_TYPE", "REQUIRED_FIELD_MISSING", "FIELD_INTEGRITY_EXCEPTION",
})  # fmt: skip
NOT_THERE = "INVALID_CROSS_REFERENCE_KEY"
"""An id the org does not hold, as a record purged from the Recycle Bin (after 15 days) or
hard-deleted, which queryAll no longer shows: not tried again until its values change. It
is not taken for gone, as a deleted one is: what Salesforce answers for a purged id is not
documented, and this code can also mean a lookup the write named does not exist."""
NUMBERS = frozenset({"double", "int", "currency", "percent", "long"})


def typed(value: str, kind: str | None) -> Any:
    """A written value (text) in its field's JSON type; "" clears the field (null), and a
    checkbox, which holds no null, is cleared unchecked."""
    if value == "":
        # A checkbox is `nillable: false` in describe; null on one is refused with
        # INVALID_TYPE_ON_FIELD_IN_RECORD (salesforce.stackexchange.com/questions/127548).
        return False if kind == "boolean" else None
    if kind in NUMBERS:
        number = float(value)
        return int(number) if number.is_integer() and kind != "percent" else number
    if kind == "boolean":
        return value.strip().lower() in ("true", "1", "yes")
    return value


def field_kinds(schema: Schema, sobject: str) -> dict[str, str]:
    """The object's field types by lower-case field name, as its describe says."""
    return {name: info.type for name, info in (schema.fields(sobject) or {}).items()}


def writable(
    writes: Sequence[Write],
    converted: Mapping[str, str],
    outcome: WriteOutcome,
    objects: Mapping[str, str] = KEY_PREFIXES,
) -> list[Write]:
    """The writes that can be sent: a Lead known converted is `Gone` into its Contact, an
    id of none of `objects` (key prefix -> sObject) a failure; both noted in `outcome`."""
    pending: list[Write] = []
    for write in writes:
        if write.record_id in converted:
            outcome.gone.append(Gone(write.record_id, converted[write.record_id]))
        elif write.record_id[:3] not in objects:
            named = " or ".join(objects.values())
            outcome.failed.append(
                WriteFailure(write.record_id, f"not a {named} id", retryable=False)
            )
        else:
            pending.append(write)
    return pending


def refused(
    record_id: str, code: str, message: str, outcome: WriteOutcome, gone: list[str]
) -> None:
    """One record Salesforce did not update: converted or deleted, it is gone (noted in
    `gone`, for `merged_into`); otherwise a failure kept for the next run, retryable
    unless its values were refused or the org does not hold it (`NOT_THERE`)."""
    if code in (CONVERTED, DELETED):
        gone.append(record_id)
    else:
        retryable = code in AFTER_SETUP or code not in (*REFUSED_VALUES, NOT_THERE)
        outcome.failed.append(WriteFailure(record_id, f"{code}: {message}", retryable))


def write_collection(
    api: SalesforceApi,
    schema: Schema,
    writes: Sequence[Write],
    converted: Mapping[str, str],
    objects: Mapping[str, str] = KEY_PREFIXES,
) -> WriteOutcome:
    """At most 200 records of `objects` (key prefix -> sObject: Leads and Contacts, or
    Accounts) in one collection update (more calls only for locked rows)."""
    if len(writes) > COLLECTION:
        raise ValueError(f"at most {COLLECTION} records per sObject Collections update")
    outcome = WriteOutcome()
    pending = writable(writes, converted, outcome, objects)
    gone: list[str] = []
    for attempt in range(LOCK_RETRIES + 1):
        if not pending:
            break
        if attempt:
            api.policy.clock.sleep(LOCK_WAIT * 2 ** (attempt - 1))
        results = update(api, schema, pending, objects)
        locked: list[Write] = []
        for write, result in zip(pending, results, strict=False):
            code, message = result_error(result)
            if code is None:
                outcome.written.append(write.record_id)
            elif code == LOCKED and attempt < LOCK_RETRIES:
                locked.append(write)
            else:
                refused(write.record_id, code, message, outcome, gone)
        for write in pending[len(results) :]:
            outcome.failed.append(WriteFailure(write.record_id, "not in Salesforce's answer"))
        pending = locked
    outcome.gone.extend(merged_into(api, schema, gone))
    return outcome


def update(
    api: SalesforceApi,
    schema: Schema,
    writes: Sequence[Write],
    objects: Mapping[str, str] = KEY_PREFIXES,
) -> list[Any]:
    kinds: dict[str, dict[str, str]] = {}
    names: set[str] = set().union(*(w.values for w in writes))  # the batch's, looked up once
    for write in writes:
        sobject = objects.get(write.record_id[:3])
        assert sobject is not None
        if sobject not in kinds:
            described = field_kinds(schema, sobject)
            kinds[sobject] = {n: described[n.lower()] for n in names if n.lower() in described}
    body = collection_body(writes, kinds, objects)
    answer = api.rest("collections.update", "composite/sobjects", method="PATCH", data=body)
    return list(answer or [])


def collection_body(
    writes: Sequence[Write],
    kinds: Mapping[str, Mapping[str, str]],
    objects: Mapping[str, str] = KEY_PREFIXES,
) -> bytes:
    """The JSON body of one collection update, `{"allOrNone": false, "records": [...]}`,
    each record `{"attributes": {"type": ...}, "id": ..., field: value, ...}` with its
    values in their fields' JSON types (`typed`; a Contact's without the Lead-only
    lifecycle field), encoded here once and sent as it is (the document `json.dumps`
    would give, without spaces). A batch's records share their fields and most of their
    values, so each object's (field, value) is encoded once per batch, as its whole
    `,"field":value` text."""
    pairs: dict[str, dict[tuple[str, str], str]] = {}
    heads: dict[str, str] = {}
    records = []
    for write in writes:
        sobject = objects.get(write.record_id[:3], "")
        known = pairs.get(sobject)
        if known is None:
            known = pairs[sobject] = {}
            heads[sobject] = '{"attributes":{"type":' + quoted(sobject) + '},"id":'
        text = [
            known[item] if item in known else encoded_pair(known, item, sobject, kinds)
            for item in write.values.items()
        ]
        records.append(heads[sobject] + quoted(write.record_id) + "".join(text) + "}")
    return ('{"allOrNone":false,"records":[' + ",".join(records) + "]}").encode("ascii")


def encoded_pair(
    known: dict[tuple[str, str], str],
    item: tuple[str, str],
    sobject: str,
    kinds: Mapping[str, Mapping[str, str]],
) -> str:
    """`,"field":value` of one (field, value) of an `sobject` record, kept in `known`; ""
    for the lifecycle field of an object other than a Lead."""
    name, value = item
    if sobject != "Lead" and name == LIFECYCLE:
        text = ""
    else:
        kind = kinds.get(sobject, {}).get(name) or None
        text = f",{quoted(name)}:{json_value(value, kind)}"
    known[item] = text
    return text


def json_value(value: str, kind: str | None) -> str:
    """A written value as JSON text in its field's type (`typed`); a value its type cannot
    read, a number that is not finite among them, goes as text, for Salesforce to refuse
    record by record."""
    try:
        converted = typed(value, kind)
    except ValueError:
        converted = value
    if converted is None or isinstance(converted, bool):
        return "null" if converted is None else ("true" if converted else "false")
    if isinstance(converted, int):
        return str(converted)
    if isinstance(converted, float):
        return repr(converted) if math.isfinite(converted) else quoted(value)
    return quoted(str(converted))


def result_error(result: Any) -> tuple[str | None, str]:
    """(statusCode, message) of a failed SaveResult; (None, "") when it succeeded."""
    if isinstance(result, Mapping) and result.get("success") is True:
        return None, ""
    errors = result.get("errors") if isinstance(result, Mapping) else None
    first = errors[0] if isinstance(errors, list) and errors else {}
    fields = first.get("fields") or []
    message = str(first.get("message") or "refused")
    if fields:
        message = f"{', '.join(map(str, fields))}: {message}"
    return str(first.get("statusCode") or "UNKNOWN_EXCEPTION"), message


def merged_into(api: SalesforceApi, schema: Schema, ids: Sequence[str]) -> list[Gone]:
    """Records a write found converted or deleted, with where they went where the org says:
    a converted Lead's Contact (`ConvertedContactId`), a merged-away record's master
    (`MasterRecordId`, read through queryAll, which still answers deleted records)."""
    gone = {i: Gone(i) for i in ids}
    for sobject in ("Lead", "Contact"):
        mine = [i for i in ids if sobject_of(i) == sobject]
        wanted = ["Id", "IsDeleted", "MasterRecordId", "IsConverted", "ConvertedContactId"]
        fields = schema.present(sobject, wanted)
        if not mine or len(fields) < 2:
            continue
        soql = select(sobject, fields, [f"Id IN {soql_ids(mine)}"])
        try:
            answer = api.query_page(f"{sobject.lower()}s.query", soql, None, deleted=True)
        except ApiError:  # an org without these fields: gone, whereabouts unknown
            answer = {}
        for record in answer.get("records") or []:
            target = record.get("MasterRecordId") or (
                record.get("ConvertedContactId") if record.get("IsConverted") else None
            )
            if target:
                gone[str(record["Id"])] = Gone(str(record["Id"]), str(target))
    return list(gone.values())
