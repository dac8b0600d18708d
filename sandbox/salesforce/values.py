"""Field values: Salesforce's JSON forms, and a written value checked against its field.

A write is refused as Salesforce refuses it (REQUIRED_FIELD_MISSING,
INVALID_TYPE_ON_FIELD_IN_RECORD, STRING_TOO_LONG, INVALID_EMAIL_ADDRESS).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

from sandbox.salesforce.errors import RecordError
from sandbox.salesforce.schema import NUMBER_TYPES, FieldDef


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON form of a dateTime: `2026-01-01T00:00:00.000+0000`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def to_json(value: object) -> object:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def parse_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def coerce(definition: FieldDef, raw: object) -> object:
    """The stored value of `raw` written to a field, or the RecordError Salesforce gives."""
    if raw is None:
        # JSON null clears a field, as `fieldsToNull` does in SOAP, for nillable fields
        # only: "You can specify only those fields that you can update and that are nillable"
        # (sObject, API reference, as quoted at
        # http://www.sforce.com/us/docs/sforce50/sforce_API_calls_about_sObject.html); a
        # checkbox refuses null as a value of the wrong type (reported for a DML write in
        # salesforce.stackexchange.com/questions/127548), a required field as missing
        if not definition.nillable and definition.type == "boolean":
            message = f"{definition.label}: value not of required type: "
            raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", message, (definition.name,))
        if not definition.nillable:
            fields = (definition.name,)
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{definition.name}]",
                fields,
            )
        return None
    try:
        value = _convert(definition.type, raw)
    except (TypeError, ValueError):
        message = f"{definition.label}: value not of required type: {raw}"
        raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", message, (definition.name,)) from None
    if isinstance(value, str):
        _check_text(definition, value)
    return value


def _convert(kind: str, raw: object) -> object:
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(raw)
    if isinstance(raw, (bool, dict, list)):  # a tuple: the faster test
        raise TypeError(raw)
    if kind in NUMBER_TYPES:
        number = float(raw)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise ValueError(raw)
        if kind == "int":
            if not number.is_integer():
                raise ValueError(raw)
            return int(number)
        return number
    if kind == "date":
        return date.fromisoformat(str(raw)[:10]) if isinstance(raw, str) else _fail(raw)
    if kind == "datetime":
        return parse_datetime(raw) if isinstance(raw, str) else _fail(raw)
    return raw if isinstance(raw, str) else str(raw)


def _fail(raw: object) -> object:
    raise TypeError(raw)


def _check_text(definition: FieldDef, value: str) -> None:
    if definition.length and len(value) > definition.length:
        too_large = f"{definition.label}: data value too large: {value[:40]}"
        message = f"{too_large} (max length={definition.length})"
        raise RecordError("STRING_TOO_LONG", message, (definition.name,))
    if (
        definition.type == "email"
        and value
        and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value)
    ):
        message = f"{definition.label}: invalid email address: {value}"
        raise RecordError("INVALID_EMAIL_ADDRESS", message, (definition.name,))
