"""The Salesforce sandbox's org: its tables, id lookup, validated writes and clock.

Writes are refused with the SaveResult errors of the REST API and stamp
`LastModifiedDate` and `SystemModstamp` with the org's clock, which only moves
forward; with a commit lag, queries see a write only some time after its stamp.
Records are deleted to the Recycle Bin (15 days) and merged. The error codes
and the rest are in docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.salesforce.errors import RecordError
from sandbox.salesforce.ids import parse_id
from sandbox.salesforce.projection import project
from sandbox.salesforce.schema import FieldDef, SObjectType, standard_types
from sandbox.salesforce.table import Row, Table
from sandbox.salesforce.values import coerce
from sandbox.world.tables import World

RECYCLE_BIN_DAYS = 15
"""How long a deleted record stays in the Recycle Bin, where queryAll still finds it."""
MERGEABLE = ("Lead", "Contact", "Account")

ROLLED_BACK = RecordError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
)


def _failure(error: RecordError) -> dict[str, Any]:
    return {"success": False, "errors": [error.as_json()]}


class Org:
    """All sObject tables, the id lookup, validated writes and the org's clock."""

    def __init__(self, world: World | None, now: Callable[[], datetime]) -> None:
        self.types = standard_types()
        self._now = now
        self._last_stamp = datetime.min.replace(tzinfo=UTC)
        tables, self.index = project(world, self.types)
        self.tables = {t.sobject.name.lower(): t for t in tables}
        self._by_prefix = {t.sobject.prefix: t for t in tables}
        self.commit_lag = 0.0
        """Seconds between a write's stamp and the moment queries see it (its commit)."""
        self._pending: list[tuple[datetime, Table, int, Row | None]] = []

    def sobject(self, name: str) -> SObjectType | None:
        return self.types.get(name.lower())

    def table(self, name: str) -> Table:
        return self.tables[name.lower()]

    def locate(self, record_id: str) -> tuple[Table, int] | None:
        parsed = parse_id(record_id)
        table = self._by_prefix.get(parsed[0]) if parsed else None
        if parsed is None or table is None or parsed[1] >= len(table):
            return None
        return table, parsed[1]

    def record(self, record_id: str) -> Row | None:
        located = self.locate(record_id)
        return located[0].record(located[1]) if located else None

    def now(self) -> datetime:
        """The org's time."""
        return self._now()

    def stamp(self) -> datetime:
        """The org's time for a write, to the millisecond: later than the previous one."""
        return self.stamps(1)[0]

    def stamps(self, count: int) -> list[datetime]:
        """`count` stamps of writes made together (the records of one call): the org's time
        read once, each to the millisecond and later than the one before."""
        now = self._now()
        now -= timedelta(microseconds=now.microsecond % 1000)
        moments, last, step = [], self._last_stamp, timedelta(milliseconds=1)
        for _ in range(count):
            last = max(now, last + step)
            moments.append(last)
        self._last_stamp = last
        return moments

    def add_custom_field(self, sobject: SObjectType, definition: FieldDef) -> None:
        sobject.add(definition)

    # -- writes ----------------------------------------------------------------------------

    def prepare_update(
        self,
        record: Mapping[str, Any],
        sobject_name: str | None = None,
        *,
        csv: bool = False,
        known: dict[tuple[str, str], FieldDef] | None = None,
        coerced: dict[tuple[str, str, type, Any], object] | None = None,
    ) -> tuple[Table, int, Row]:
        """Check one record of an update (an `Id` and the fields to set); RecordError if bad.
        `known`: the fields already found writable in this call, by (object, name as sent),
        so that the records of one call look each field up once; `coerced`: the values
        already checked in this call, by (object, name as sent, JSON type, value), each as
        stored or the RecordError it was refused with (the records of a batch share most
        of their values)."""
        values = {k: v for k, v in record.items() if k != "attributes"}
        id_key = "id" if "id" in values else "Id" if "Id" in values else None  # as most send it
        id_key = id_key or next((k for k in values if k.lower() == "id"), None)
        if id_key is None or not values[id_key]:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call")
        record_id = str(values.pop(id_key))
        attributes = record.get("attributes")
        name = sobject_name or (attributes.get("type") if isinstance(attributes, dict) else None)
        sobject = self.sobject(str(name)) if name else None
        if sobject is None:
            raise RecordError("INVALID_TYPE", f"sObject type '{name}' is not supported.")
        parsed = parse_id(record_id)
        if parsed is None or parsed[0] != sobject.prefix:
            message = f"{sobject.name} ID: id value of incorrect type: {record_id}"
            raise RecordError("MALFORMED_ID", message, ("Id",))
        located = self.locate(record_id)
        if located is None:
            raise RecordError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        if located[1] in located[0].deleted:
            # StatusCode ENTITY_IS_DELETED (SOAP API Developer Guide, "Core Data Types")
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        if sobject.name == "Lead" and located[0].value(located[1], "IsConverted"):
            # Salesforce Help 000384333: a converted lead takes no more updates
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        return located[0], located[1], self._changes(sobject, values, csv, known, coerced)

    def _changes(
        self,
        sobject: SObjectType,
        values: Mapping[str, Any],
        csv: bool,
        known: dict[tuple[str, str], FieldDef] | None = None,
        coerced: dict[tuple[str, str, type, Any], object] | None = None,
    ) -> Row:
        changes: Row = {}
        known = {} if known is None else known
        for name, raw in values.items():
            definition = known.get((sobject.name, name))
            if definition is None:
                definition = self._writable(sobject, name)
                known[(sobject.name, name)] = definition
            if csv and raw == "":
                continue  # Bulk API: an empty cell leaves the field as it is; #N/A clears it
            raw = None if csv and raw == "#N/A" else raw
            if coerced is None or isinstance(raw, (dict, list)):
                value = coerce(definition, raw)
            else:  # keyed by type too: True and 1 are equal keys, not equal values
                key = (sobject.name, name, type(raw), raw)
                value = coerced.get(key, coerced)
                if value is coerced:
                    value = coerced[key] = _coerced(definition, raw)
                if isinstance(value, RecordError):
                    raise value.with_traceback(None)
            if definition.type == "reference":
                self._check_reference(definition, value)
            changes[definition.name] = value
        return changes

    def _writable(self, sobject: SObjectType, name: str) -> FieldDef:
        """The field `name` of `sobject`, if the API user may write it; RecordError if not."""
        definition = sobject.field(name)
        if definition is None:
            message = f"No such column '{name}' on sobject of type {sobject.name}"
            raise RecordError("INVALID_FIELD", message)
        if not definition.updateable:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {definition.name}. Please check the "
                "security settings of this field and verify that it is read/write for "
                "your profile or permission set.",
                (definition.name,),
            )
        return definition

    def _check_reference(self, definition: FieldDef, value: object) -> None:
        if definition.type != "reference" or value is None:
            return
        located = self.locate(str(value))
        if located is None or located[0].sobject.name not in definition.reference_to:
            message = f"{definition.label}: id value of incorrect type: {value}"
            raise RecordError("FIELD_INTEGRITY_EXCEPTION", message, (definition.name,))

    def apply(self, table: Table, row: int, changes: Row, moment: datetime | None = None) -> None:
        """Write `changes` to a row at `moment` (the org's next stamp by default)."""
        moment = moment or self.stamp()
        self._commit(table, row, {**changes, "LastModifiedDate": moment, "SystemModstamp": moment})

    def update_collection(
        self, records: list[Any], all_or_none: bool, record_fails: Callable[[], bool]
    ) -> list[dict[str, Any]]:
        """The SaveResults of an sObject Collections update, written unless all_or_none fails."""
        known: dict[tuple[str, str], FieldDef] = {}
        coerced: dict[tuple[str, str, type, Any], object] = {}
        checked = [self._check(record, record_fails, known, coerced) for record in records]
        if all_or_none and any(isinstance(outcome, RecordError) for outcome in checked):
            return [_failure(o if isinstance(o, RecordError) else ROLLED_BACK) for o in checked]
        landing = sum(1 for outcome in checked if not isinstance(outcome, RecordError))
        moments = iter(self.stamps(landing))
        results = []
        for outcome in checked:
            if isinstance(outcome, RecordError):
                results.append(_failure(outcome))
                continue
            table, row, changes = outcome
            self.apply(table, row, changes, next(moments))
            results.append({"id": table.id(row), "success": True, "errors": []})
        return results

    def _check(
        self,
        record: Any,
        record_fails: Callable[[], bool],
        known: dict[tuple[str, str], FieldDef] | None = None,
        coerced: dict[tuple[str, str, type, Any], object] | None = None,
    ) -> RecordError | tuple[Table, int, Row]:
        try:
            if not isinstance(record, dict):
                raise RecordError("JSON_PARSER_ERROR", "Each record must be a JSON object")
            table, row, changes = self.prepare_update(record, known=known, coerced=coerced)
            if record_fails():
                message = "unable to obtain exclusive access to this record or 1 records: "
                raise RecordError("UNABLE_TO_LOCK_ROW", message + table.id(row))
            return table, row, changes
        except RecordError as error:
            return error

    # -- lifecycle: commits, inserts, deletes and merges -------------------------------------

    def _commit(self, table: Table, row: int, values: Row | None) -> None:
        """Write now, or after the commit lag: until then queries see the row as it was."""
        if self.commit_lag <= 0:
            if values is not None:
                table.write(row, values)
            table.hidden.discard(row)
            return
        visible = self._now() + timedelta(seconds=self.commit_lag)
        self._pending.append((visible, table, row, values))

    def settle(self) -> None:
        """Commit the writes whose commit lag has passed, in the order they were made."""
        now = self._now()
        due = [p for p in self._pending if p[0] <= now]
        self._pending = [p for p in self._pending if p[0] > now]
        for _, table, row, values in due:
            if values is not None:
                table.write(row, values)
            table.hidden.discard(row)
            if values is not None and values.get("IsDeleted"):
                table.deleted[row] = values["SystemModstamp"]

    def insert(self, name: str, values: Row) -> tuple[Table, int]:
        """A new record of sObject `name`, stamped with the org's clock (seen after the lag)."""
        moment = self.stamp()
        table = self.table(name)
        stamps = {"CreatedDate": moment, "LastModifiedDate": moment, "SystemModstamp": moment}
        table.added.append({**values, **stamps})
        row = len(table) - 1
        table.hidden.add(row)
        self._commit(table, row, None)
        return table, row

    def delete(self, record_id: str, master: str | None = None) -> None:
        """Move a record to the Recycle Bin (`IsDeleted`, and `MasterRecordId` when merged)."""
        located = self.locate(record_id)
        if located is None or self.is_deleted(record_id):
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted")
        table, row = located
        moment = self.stamp()
        values: Row = {"IsDeleted": True, "LastModifiedDate": moment, "SystemModstamp": moment}
        if master is not None:
            values["MasterRecordId"] = master
        if self.commit_lag <= 0:
            table.deleted[row] = moment
        self._commit(table, row, values)
        for child in self._cascaded(table.sobject.name, table.id(row)):
            self.delete(child)

    def _cascaded(self, sobject: str, record_id: str) -> list[str]:
        """The records deleting `record_id` deletes with it: an Opportunity's contact roles
        ("If you delete a parent object, you delete its children automatically", Apex
        Developer Guide, "Deleting Records"; the roles go to the Recycle Bin beside it)."""
        if sobject != "Opportunity":
            return []
        roles = self.table("OpportunityContactRole")
        return [
            roles.id(row)
            for row in range(len(roles))
            if row not in roles.deleted
            and str(roles.record(row)["OpportunityId"] or "")[:15] == record_id[:15]
        ]

    def merge(self, master_id: str, duplicate_ids: list[str]) -> None:
        """Merge up to two records into a master of the same type (Lead, Contact, Account): the
        master is updated, the others deleted with `MasterRecordId` set to it."""
        master = self.locate(master_id)
        if master is None or master[0].sobject.name not in MERGEABLE or len(duplicate_ids) > 2:
            raise RecordError("INVALID_OPERATION", "merge takes a Lead, Contact or Account master")
        canonical = master[0].id(master[1])
        for duplicate in duplicate_ids:
            found = self.locate(duplicate)
            if found is None or found[0] is not master[0] or found[1] == master[1]:
                raise RecordError("INVALID_ID_FIELD", f"invalid record to merge: {duplicate}")
        self.apply(master[0], master[1], {})
        for duplicate in duplicate_ids:
            self._reparent(master[0].sobject.name, duplicate, canonical)
            self.delete(duplicate, canonical)

    def _reparent(self, sobject: str, victim: str, master: str) -> None:
        """Point the records that refer to `victim` at `master`, as a merge does (it scans
        every table that can refer to the type, so it costs a pass over them)."""
        for table in self.tables.values():
            fields = [
                f.name
                for f in table.sobject.fields.values()
                if sobject in f.reference_to and f.name != "MasterRecordId"
            ]
            if not fields:
                continue
            for row in range(len(table)):
                record = table.record(row)
                moved = {f: master for f in fields if str(record[f] or "")[:15] == victim[:15]}
                if moved and row not in table.deleted:
                    self.apply(table, row, moved)

    def is_deleted(self, record_id: str) -> bool:
        """Whether a record is in the Recycle Bin (or purged from it)."""
        located = self.locate(record_id)
        return located is not None and located[1] in located[0].deleted

    def is_converted(self, record_id: str) -> bool:
        """Whether a record is a converted Lead (read-only in Salesforce)."""
        record = self.record(record_id)
        return bool(record and record.get("IsConverted"))

    def visible(self, table: Table, row: int, include_deleted: bool) -> bool:
        """Whether a query (or queryAll) sees a row: committed, and not deleted (for queryAll,
        not deleted more than RECYCLE_BIN_DAYS ago)."""
        if row in table.hidden:
            return False
        deleted = table.deleted.get(row)
        if deleted is None:
            return True
        return include_deleted and deleted > self._now() - timedelta(days=RECYCLE_BIN_DAYS)


def _coerced(definition: FieldDef, raw: object) -> object:
    """`coerce`, its RecordError returned rather than raised (kept for the call's other
    records that send the same value)."""
    try:
        return coerce(definition, raw)
    except RecordError as refused:
        return refused
