"""An activity as a row of the store's `activities` table (`sync.schema.ACTIVITY_COLUMNS`):
its key, its record and address as the columns hold them, its time, and its attributes split
into the columns of their own and the rest as JSON. _Made before a transaction, for every
activity a pull brings (`sync.saving.pulled_activities`), so each step is kept cheap."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Generic, TypeVar

from scoring import Activity, ActivityType, normalize_email
from sync.json_text import dumps
from sync.schema import ACTIVITY_ID_LENGTH, EMAIL_LENGTH, ID_LENGTH

_TYPE_VALUES = {t: t.value for t in ActivityType}
_Made = TypeVar("_Made")


def activity_values(
    system: str, activity: Activity, attributes: Mapping[str, Any] | None = None
) -> tuple[Any, ...] | None:
    """The activity as a row of the `activities` table (`ACTIVITY_COLUMNS`, in order), or
    None: a record id no column holds, or only an address too long to be one. An address
    too long beside a record id is dropped; an activity id too long (or with a NUL) is
    replaced by its digest. Built in one pass, as a tuple the driver takes as it is.
    `attributes`: those to store in place of the activity's (the ones kept of them); its
    key, when it has no id, is still made of all of the activity's."""
    record = activity.contact_id
    if len(record) > ID_LENGTH or "\x00" in record:
        return None
    email = activity.contact_email
    if email is not None:
        email = email.strip().lower() or None  # `normalize_email`
        if email is not None and (len(email) > EMAIL_LENGTH or "\x00" in email):
            if not record:
                return None
            email = None
            activity = replace(activity, contact_email=None)
    key = activity.id
    if key is not None and (len(key) > ACTIVITY_ID_LENGTH or "\x00" in key):
        key = "h:" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()
    elif not key:
        key = activity_key(activity)
    return (
        system,
        key,
        record or None,
        email,
        _TYPE_VALUES[activity.type],
        activity.occurred_at.timestamp(),
        *split_attributes(activity.attributes if attributes is None else attributes),
    )


_NO_ATTRIBUTES = (None, None, None, None, "{}")


_PLAIN = frozenset({str, int, bool, type(None)})
"""The types whose equal values are stored alike (not so 0.0 and -0.0, or Decimal("1.0")
and Decimal("1.00")): only attributes of these are remembered by their values."""
Remembered = tuple[tuple[tuple[str, Any], ...], tuple[type, ...]]
_KEPT = 4096
"""The most shapes of attributes each memo holds; emptied when full."""


def _remembered(attributes: Mapping[str, Any]) -> Remembered | None:
    """What attributes are remembered by: their items and each value's type (1 and True
    are equal keys but two stored values); None unless every value is plain."""
    types = tuple(map(type, attributes.values()))
    return (tuple(attributes.items()), types) if _PLAIN.issuperset(types) else None


class _Memo(Generic[_Made]):
    """`make(attributes)`, remembered for attributes of plain values (`_remembered`)."""

    def __init__(self, make: Callable[[Mapping[str, Any]], _Made]) -> None:
        self.make = make
        self.known: dict[Remembered, _Made] = {}

    def __call__(self, attributes: Mapping[str, Any]) -> _Made:
        key = _remembered(attributes)
        if key is None:
            return self.make(attributes)
        found = self.known.get(key)
        if found is None:
            found = self.make(attributes)
            if len(self.known) >= _KEPT:
                self.known.clear()
            self.known[key] = found
        return found


def split_attributes(attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    """An activity's attributes as the stored columns `url`, `campaign`, `form`, `amount`
    and `extra` (the rest as JSON); remembered for the attributes many activities share
    (a campaign's opens: its id, audience and title)."""
    return _SPLITS(attributes) if attributes else _NO_ATTRIBUTES


def _split(attributes: Mapping[str, Any]) -> tuple[Any, ...]:
    rest = dict(attributes)
    url = _text(rest.pop("url", None), None)
    campaign = _text(rest.pop("campaign", None), 128)
    form = _text(rest.pop("form", None), 256)
    amount = rest.get("amount")
    if isinstance(amount, int | float) and not isinstance(amount, bool):
        amount = float(rest.pop("amount"))
    else:
        amount = None
    return (url, campaign, form, amount, _extra(rest))


def _text(value: Any, limit: int | None) -> str | None:
    """`bounded(str(value), limit)`, None for None; a clean short text as it is."""
    if value is None:
        return None
    text = value if type(value) is str else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text if limit is None or len(text) <= limit else text[:limit]


def _extra(rest: dict[str, Any]) -> str:
    """`dumps(rest)`, remembered for the few shapes most activities share (a page view
    counted on a contact: `{"recorded_by": "counter"}`; an email event: nothing)."""
    return _EXTRAS(rest) if rest else "{}"


_SPLITS = _Memo(_split)
_EXTRAS = _Memo(dumps)


def activity_key(activity: Activity) -> str:
    """The id an activity is deduplicated by: its own, or one made from what it is."""
    if activity.id:
        return activity.id
    parts = [
        activity.contact_id,
        normalize_email(activity.contact_email) or "",
        activity.type.value,
        f"{activity.occurred_at.timestamp():.3f}",
        dumps(activity.attributes),
    ]
    return "h:" + hashlib.sha1("|".join(parts).encode()).hexdigest()
