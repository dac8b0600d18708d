"""What the org has: each object's fields as its describe says, read once and kept.

A query names only fields the org has and the running user can see (a field
hidden by field-level security is absent from describe, and naming it fails the
whole query with INVALID_FIELD), so every SELECT is built from the fields wanted
that describe lists, under their own spelling. An object the org does not have
(or the user cannot read) describes as None. `forget()` drops what was read, after
setup made fields.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.errors import RejectedError
from connectors.salesforce.client import SalesforceApi


@dataclass(frozen=True)
class FieldInfo:
    name: str
    type: str
    relationship: str | None = None
    reference_to: tuple[str, ...] = ()
    picklist: tuple[str, ...] = ()


class Schema:
    """The describes of an org's objects, each read once (thread-safe)."""

    def __init__(self, api: SalesforceApi) -> None:
        self.api = api
        self._described: dict[str, dict[str, FieldInfo] | None] = {}
        self._lock = threading.Lock()

    def fields(self, sobject: str) -> Mapping[str, FieldInfo] | None:
        """The object's fields by lower-case name; None when the org has no such object."""
        with self._lock:
            if sobject in self._described:
                return self._described[sobject]
        try:
            answer = self.api.rest(f"{sobject.lower()}.describe", f"sobjects/{sobject}/describe")
        except RejectedError as refused:
            if refused.status != 404:
                raise
            answer = None
        described = None if answer is None else _fields(answer)
        with self._lock:
            self._described[sobject] = described
        return described

    def forget(self) -> None:
        with self._lock:
            self._described.clear()

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        """A field of `sobject` (`Account.Industry` through a relationship), if the org has it."""
        own = self.fields(sobject) or {}
        head, dot, rest = name.partition(".")
        if not dot:
            return own.get(name.lower())
        link = next(
            (f for f in own.values() if (f.relationship or "").lower() == head.lower()), None
        )
        if link is None or len(link.reference_to) != 1:
            return None
        found = self.field(link.reference_to[0], rest)
        if found is None:
            return None
        return FieldInfo(f"{link.relationship}.{found.name}", found.type)

    def present(self, sobject: str, wanted: Iterable[str]) -> list[str]:
        """The fields of `wanted` the org has on `sobject`, in its own spelling, once each."""
        names = []
        for name in wanted:
            found = self.field(sobject, name)
            if found is not None:
                names.append(found.name)
        return list(dict.fromkeys(names))

    def names(self, sobject: str) -> list[str]:
        return [f.name for f in (self.fields(sobject) or {}).values()]


def _fields(answer: Mapping[str, Any]) -> dict[str, FieldInfo]:
    found = {}
    for entry in answer.get("fields") or []:
        values = entry.get("picklistValues") or []
        picklist = tuple(str(v["value"]) for v in values if v.get("active", True) and "value" in v)
        found[str(entry["name"]).lower()] = FieldInfo(
            str(entry["name"]),
            str(entry.get("type") or ""),
            entry.get("relationshipName"),
            tuple(entry.get("referenceTo") or ()),
            picklist,
        )
    return found
