"""The state store's tables, their versioned migrations, and how activities are stored.

cursors      per system and stream, committed once the writes they cover landed
persons      one row per person by normalized email, its next due moment (`sync.dues`)
identities   a person's record in each system, with the attributes last pulled
activities   deduplicated by (system, activity id); resolved to a person on read, by
             record id, else by address (an address-keyed one may be pinned to a record)
written      the values last written to each record, what the diff compares against
gone         records a system reported merged away or deleted (until pulled again)
aliases      former addresses of records, so activity sent to them follows the record
queue        records a trigger asked to rescore while a sync held the system's lock
seen         what webhooks saw lately (signatures, notification ids), to refuse replays
locks        one sync at a time per store and system; one trigger at a time per record
failures     writes that did not land, with their reason, attempt count and values
runs         a log of sync runs and their summaries
history      each person's written score over time, a row per change (`sync.history`)
rulesets     each rule file's text once, under its content hash (the rule version)
handovers    sales capacity's hand-overs, counts and queue (`sync.handover_schema`)
write_log    each record written and landed, and run_log, the runs flat (`sync.run_tables`)
account_members  each account's people, a row per person (`sync.account_members`)
meta         schema version, last full scoring's fingerprint, last run, RFM bounds
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from importlib import import_module
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import Contact, normalize_email
from sync.bulk import insert_sql

CHUNK = 500
ID_LENGTH, ACTIVITY_ID_LENGTH, EMAIL_LENGTH = 64, 128, 320
"""The lengths of the record id, activity id and address columns, on every backend."""

metadata = sa.MetaData()
meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
persons = sa.Table(
    "persons",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), unique=True, nullable=True),
    # Epoch seconds from which a rescore may change a written value with no new data;
    # NULL: now (new or changed inputs). See `sync.dues`. How many times `due` was set to
    sa.Column("due", sa.Float, nullable=True),
    # NULL (`sync.dues`): a run saves a due only for persons not marked since it read them.
    sa.Column("marked", sa.Integer, nullable=True),
    sa.Index("ix_persons_due", "due"),
    sqlite_autoincrement=True,  # no id of a person forgotten is given again (docs/privacy.md)
)
identities = sa.Table(
    "identities",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("person_id", sa.Integer, sa.ForeignKey("persons.id"), nullable=False, index=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("attributes", sa.Text, nullable=False),
    sa.Column("pulled_at", sa.Float, nullable=False),
)
PURCHASES = "type = 'purchase'"
"""The rows of `ix_activities_purchases`, a partial index (a query must name them so)."""
PURCHASES_ONLY: dict[str, Any] = {
    f"{d}_where": sa.text(PURCHASES) for d in ("sqlite", "postgresql")
}
activities = sa.Table(
    "activities",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("activity_id", sa.String(128), primary_key=True),
    sa.Column("record_id", sa.String(64), nullable=True),
    sa.Column("email", sa.String(320), nullable=True, index=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("occurred_at", sa.Float, nullable=False),
    # The attributes most rules read get columns, so loading needs no JSON for most rows.
    sa.Column("url", sa.Text, nullable=True),
    sa.Column("campaign", sa.String(128), nullable=True),
    sa.Column("form", sa.String(256), nullable=True),
    sa.Column("amount", sa.Float, nullable=True),
    sa.Column("extra", sa.Text, nullable=False),
    sa.Index("ix_activities_record", "system", "record_id"),
    sa.Index("ix_activities_occurred", "occurred_at"),
    # purchases alone (RFM reads them over the whole store every run), for their inserts alone
    sa.Index("ix_activities_purchases", "occurred_at", **PURCHASES_ONLY),
)
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("stream", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
written = sa.Table(
    "written",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("values", sa.Text, nullable=False),
    sa.Column("written_at", sa.Float, nullable=False),
)
failures = sa.Table(
    "failures",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("retryable", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("failed_at", sa.Float, nullable=False),
    sa.Column("attempted", sa.Text, nullable=True),
    # The values that were refused, so a refusal that retrying cannot change is not
    # retried until the values themselves change.
)
gone = sa.Table(
    "gone",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(64), primary_key=True),
    sa.Column("merged_into", sa.String(64), nullable=True),
    sa.Column("reported_at", sa.Float, nullable=False),
    # Records a system reported merged away or deleted: never written again.
)
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("holder", sa.String(128), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    sa.Column("beat", sa.Float, nullable=False),
    # One sync at a time per store and system (`sync/locks.py`).
)
aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(EMAIL_LENGTH), primary_key=True),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=False),
    sa.Column("since", sa.Float, nullable=False),
    # An address a record of `system` held before (its email changed, or it was merged
    # into this one): that system's activities keyed by the address belong to the record,
    # until another record of the system takes the address.
)
queue = sa.Table(
    "queue",
    metadata,
    sa.Column("system", sa.String(32), primary_key=True),
    sa.Column("record_id", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("queued_at", sa.Float, nullable=False),
    # Records a trigger asked to rescore while a sync held the system's lock: the running
    # sync, or the next, fetches and scores them.
)
seen = sa.Table(
    "seen",
    metadata,
    sa.Column("key", sa.String(ID_LENGTH), primary_key=True),
    sa.Column("seen_at", sa.Float, nullable=False, index=True),
    # A digest of what a webhook request carried that must not be acted on twice (a
    # signed request's signature, a Salesforce notification id), until it is old.
)
runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("summary", sa.Text, nullable=False),
)
history = sa.Table(
    "history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign key: a person dropped as a leftover takes its rows with it (`sync.identity`),
    # and erasing a person is one DELETE by this column.
    sa.Column("person_id", sa.Integer, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("rules", sa.String(64), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("dimensions", sa.Text, nullable=False),
    sa.Column("stage", sa.Text, nullable=True),
    sa.Column("grade", sa.Text, nullable=True),
    sa.Index("ix_history_person", "person_id", "at"),
    sa.Index("ix_history_at", "at"),
)
rulesets = sa.Table(
    "rulesets",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("saved_at", sa.Float, nullable=False),
)


def _v1(connection: Connection) -> None:
    metadata.create_all(connection)


def _v2(connection: Connection) -> None:
    gone.create(connection, checkfirst=True)


def _v3(connection: Connection) -> None:
    locks.create(connection, checkfirst=True)


def _v4(connection: Connection) -> None:
    aliases.create(connection, checkfirst=True)
    queue.create(connection, checkfirst=True)


def _v5(connection: Connection) -> None:
    # A store made at version 1 by this code has the column already (`create_all`).
    if "due" not in {c["name"] for c in sa.inspect(connection).get_columns("persons")}:
        connection.execute(sa.text("ALTER TABLE persons ADD COLUMN due FLOAT"))
    indexes = {i["name"] for i in sa.inspect(connection).get_indexes("persons")}
    if "ix_persons_due" not in indexes:
        connection.execute(sa.text("CREATE INDEX ix_persons_due ON persons (due)"))


def _v6(connection: Connection) -> None:
    if "marked" not in {c["name"] for c in sa.inspect(connection).get_columns("persons")}:
        connection.execute(sa.text("ALTER TABLE persons ADD COLUMN marked INTEGER"))


def _v7(connection: Connection) -> None:
    seen.create(connection, checkfirst=True)


def _v8(connection: Connection) -> None:
    # Mailchimp records became keyed by the member's `contact_id`, not the address's hash:
    # what was held under the old keys is dropped, the next sync pulls Mailchimp whole; people
    # stay with their other records, their Mailchimp ones come back by address, written anew.
    for table in (identities, activities, cursors, written, failures, gone, aliases, queue):
        connection.execute(sa.delete(table).where(table.c.system == "mailchimp"))


def _v9(connection: Connection) -> None:
    history.create(connection, checkfirst=True)
    rulesets.create(connection, checkfirst=True)


def _v10(connection: Connection) -> None:
    # Retention purges by date (`sync.retention`); a version-1 store of this code has them.
    for table, index in ((activities, "ix_activities_occurred"), (history, "ix_history_at")):
        if index not in {i["name"] for i in sa.inspect(connection).get_indexes(table.name)}:
            next(i for i in table.indexes if i.name == index).create(connection)


def _v11(connection: Connection) -> None:  # tables of modules on this module's `metadata`:
    import_module("sync.handover_schema").create_handover_tables(connection)


def _v12(connection: Connection) -> None:
    import_module("sync.run_tables").create_run_tables(connection)


def _v13(connection: Connection) -> None:
    import_module("sync.handover_schema").add_handover_stage(connection)


def _v14(connection: Connection) -> None:
    import_module("sync.account_members").create_member_tables(connection)


def _v15(connection: Connection) -> None:
    next(i for i in activities.indexes if i.name == "ix_activities_purchases").create(
        connection, checkfirst=True
    )


MIGRATIONS = (_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13, _v14, _v15)
"""Schema versions in order; `MIGRATIONS[n]` takes a store from version n to n + 1."""
SCHEMA_VERSION = len(MIGRATIONS)


class StoreVersionError(RuntimeError):
    """The store was written by a newer leadscore than this one."""


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


SPLIT_COLUMNS = tuple(activities.c[n] for n in ("url", "campaign", "form", "amount", "extra"))


def bounded(text: str, limit: int | None) -> str:
    """Text every backend keeps: no NUL, at most `limit` characters (PostgreSQL refuses both)."""
    clean = text.replace("\x00", "")
    return clean if limit is None else clean[:limit]


def storable_contact(contact: Contact) -> Contact | None:
    """The contact as the store can key it, or None: an id no column holds (empty,
    too long, with a NUL) cannot be written back either. An address too long to be
    one is dropped: the record is then a person of its own."""
    if not contact.id or len(contact.id) > ID_LENGTH or "\x00" in contact.id:
        return None
    email = normalize_email(contact.email)
    if email is not None and (len(email) > EMAIL_LENGTH or "\x00" in email):
        return replace(contact, email=None)
    return contact


REVISED = tuple(c.name for c in activities.columns)[2:]  # all but the key
"""The columns a revisable activity's later pull replaces."""


ACTIVITY_COLUMNS = tuple(c.name for c in activities.columns)
"""The columns of an activity's row, in the order `activity_values` gives them."""
INSERT_ACTIVITY = insert_sql(activities, ACTIVITY_COLUMNS, " ON CONFLICT DO NOTHING")
"""Stores an activity unless the store has it (by its key) already."""
_PINNED = (
    "CASE WHEN excluded.record_id IS NULL AND excluded.email = activities.email"
    " THEN activities.record_id ELSE excluded.record_id END"
)
REVISE_ACTIVITY = insert_sql(
    activities,
    ACTIVITY_COLUMNS,
    " ON CONFLICT (system, activity_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" if c != "record_id" else f"{c} = {_PINNED}" for c in REVISED),
)
"""Stores an activity, or replaces the stored one with it (`REVISED`); except a pin: a
revision still keyed by the address it was pinned by stays with the record (the alias
may have yielded since)."""
SEEN_ACTIVITIES = (
    "SELECT activities.activity_id FROM activities"
    " WHERE activities.system = ? AND activities.activity_id IN"
)
"""Which of these activity ids of a system the store holds."""


def upsert_dialect(connection: Connection) -> Any:
    """The dialect module whose `insert` has `on_conflict_do_nothing` (SQLite or PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql
    from sqlalchemy.dialects import sqlite

    return sqlite


def forget_records(
    connection: Connection, table: sa.Table, system: str, ids: Sequence[str]
) -> None:
    """Delete the rows of these records of one system from a table keyed by both."""
    connection.execute(
        sa.delete(table).where(table.c.system == system, table.c.record_id.in_(list(ids)))
    )


def replace_rows(
    connection: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows, each replacing the row of its primary key if there is one: one
    `INSERT ... ON CONFLICT DO UPDATE` (SQLite and PostgreSQL), not a delete and an insert."""
    if not rows:
        return
    connection.execute(upsert(connection.dialect.name, table, tuple(rows[0])), list(rows))


@functools.lru_cache(maxsize=64)
def upsert(dialect: str, table: sa.Table, columns: tuple[str, ...]) -> Any:
    """The `INSERT ... ON CONFLICT DO UPDATE` of `table` setting `columns`, made once per
    dialect, table and columns (building the statement costs more than running a small one)."""
    keys = [c.name for c in table.primary_key.columns]
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        statement: Any = postgresql.insert(table)
    else:
        from sqlalchemy.dialects import sqlite

        statement = sqlite.insert(table)
    kept = {c: statement.excluded[c] for c in columns if c not in keys}
    return statement.on_conflict_do_update(index_elements=keys, set_=kept)
