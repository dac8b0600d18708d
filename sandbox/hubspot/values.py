"""HubSpot's values: property values as stored and as text, times in epoch milliseconds."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.hubspot.errors import Invalid

Json = dict[str, Any]
Positions = npt.NDArray[np.intp]
"""Positions in a column or a log: contact rows, indices into the world's events."""
Mask = npt.NDArray[np.bool_]
PropertyValue = float | str | None
"""A stored property value: a float for numbers, times (epoch ms) and booleans."""

DAY_MS = 86_400_000


def iso_millis(ms: float) -> str:
    """HubSpot's text of a moment: ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_millis(text: str) -> float | None:
    """Epoch milliseconds from HubSpot's accepted forms: milliseconds, ISO date or date-time."""
    if re.fullmatch(r"-?\d+", text):
        return float(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return float(round(moment.timestamp() * 1000))


def property_text(kind: str, number: float) -> str:
    """The text HubSpot returns for a stored number, time or boolean of property type `kind`."""
    if kind == "datetime":
        return iso_millis(number)
    if kind == "date":
        return iso_millis(number)[:10]
    if kind == "bool":
        return "true" if number else "false"
    return str(int(number)) if number.is_integer() else repr(number)


def parse_property_value(definition: Json, raw: Any) -> float | str:
    """A written value as stored, or `Invalid` with HubSpot's error code."""
    kind = definition["type"]
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if kind == "string":
        return text
    if kind == "enumeration":
        allowed = [option["value"] for option in definition["options"]]
        if text not in allowed:
            raise Invalid("INVALID_OPTION", f"{text} was not one of the allowed options: {allowed}")
        return text
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise Invalid("INVALID_BOOLEAN", f"{text} is not a valid boolean")
        return 1.0 if text.lower() == "true" else 0.0
    if kind in ("datetime", "date"):
        moment = epoch_millis(text)
        if moment is None:
            raise Invalid("INVALID_DATE", f"{text} is not a valid date")
        return moment
    try:
        number = float(text)
    except ValueError:
        raise Invalid("INVALID_FLOAT", f"{text} is not a valid number") from None
    if not math.isfinite(number):
        raise Invalid("INVALID_FLOAT", f"{text} is not a valid number")
    return number
