"""SOQL text built from values that never change its meaning: every literal escaped.

Follows the SOQL and SOSL Reference, "Quoted String Escape Sequences": inside a
quoted string a backslash starts an escape (`\\n`, `\\r`, `\\t`, `\\b`, `\\f`, `\\"`,
`\\'`, `\\\\`), so a value's backslashes and quotes are escaped, and its control
characters written as their escapes; "Date Formats and Date Literals": a
dateTime is written unquoted, `2026-11-01T12:00:00Z`. Ids are checked to be ids
(15 or 18 letters and digits) before they are quoted at all. Field names come from
the org's own describe, never from a record's values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_SPECIAL = re.compile("[\\\\'\"\n\r\t\b\f]")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
IN_CHUNK = 200
"""Values per `IN (...)` list: queries stay well under SOQL's 100,000 characters."""


def soql_quote(value: str) -> str:
    """`value` as a SOQL string literal that matches exactly `value` (with `=`)."""
    return "'" + _SPECIAL.sub(lambda m: _ESCAPES[m.group(0)], value) + "'"


def is_record_id(value: str) -> bool:
    """Whether `value` has the shape of a Salesforce record id."""
    return _ID.fullmatch(value) is not None


def soql_id(value: str) -> str:
    """A record id as a literal; a ValueError (naming no value) for anything else."""
    if not is_record_id(value):
        raise ValueError("not a Salesforce record id (15 or 18 letters and digits)")
    return f"'{value}'"


def soql_ids(values: Iterable[str]) -> str:
    """`('a', 'b')` of record ids, for `IN`; ids of a wrong shape are left out."""
    return "(" + ", ".join(f"'{v}'" for v in values if is_record_id(v)) + ")"


def soql_datetime(moment: datetime) -> str:
    """A dateTime literal in UTC, to the whole second (rounded down)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def in_chunks(values: Sequence[str], size: int = IN_CHUNK) -> list[Sequence[str]]:
    """`values` in lists of at most `size`, for `IN` lists and collections."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def select(
    sobject: str,
    fields: Iterable[str],
    where: Sequence[str] = (),
    order: str | None = None,
) -> str:
    """`SELECT fields FROM sobject [WHERE a AND b] [ORDER BY order]`; each condition is
    already built from escaped literals."""
    text = f"SELECT {', '.join(dict.fromkeys(fields))} FROM {sobject}"
    if where:
        text += " WHERE " + " AND ".join(f"({w})" if " OR " in w else w for w in where)
    if order:
        text += f" ORDER BY {order}"
    return text
