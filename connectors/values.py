"""Values as vendors' APIs send them, read the one way every connector reads them.

`parse_time` takes ISO-8601 text in any of the vendors' shapes (HubSpot's
`2026-10-30T09:15:00Z`, Salesforce's `2026-10-30T09:15:00.000+0000`, a bare date)
or epoch milliseconds; `finite_number` a number or its text. Neither raises: a
value that is not one gives None.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any


def parse_time(raw: Any) -> datetime | None:
    """An aware UTC time from ISO-8601 text or epoch milliseconds (as number or digits)."""
    if raw is None or raw == "":
        return None
    if type(raw) is str and not raw.isdigit():  # the common case, once: text in UTC
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            pass  # read below as any other text
        else:
            if moment.tzinfo is UTC:
                return moment
    if isinstance(raw, datetime):
        return raw.astimezone(UTC) if raw.tzinfo else raw.replace(tzinfo=UTC)
    # Out-of-range numbers and dates, NaN and digits float() refuses ("²") are not times either.
    try:
        if isinstance(raw, int | float) or (isinstance(raw, str) and raw.isdigit()):
            return datetime.fromtimestamp(float(raw) / 1000.0, UTC)
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def finite_number(raw: Any) -> float | None:
    """A finite float from a number or its text; None for anything else."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def label_of(text: str) -> str:
    """An outcome or a type as a rule compares it: lower case, words joined by underscores."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")
