"""Activity types and ISO-8601 moments, one at a time and a column at a time.

`parse_moment` is the definition: `datetime.fromisoformat` on the trimmed text, a
naive moment taken as UTC, None where Python refuses it or where it leaves the years
1 to 9999 once in UTC. `fast_moments` reads the shapes exports write (`2026-03-01`,
`2026-03-01T09:30`, `2026-03-01 09:30:00.123`, each with `Z` or `+01:00` or
nothing) straight from a column's UTF-8 bytes, with numpy, and leaves every other
shape to `parse_moment`, one distinct value at a time: the two agree on every text.
`text_moments` lets Arrow parse a column (or a chunk) all of those shapes, which is
faster still, and takes `fast_moments` where Arrow refuses one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.files.table import chunk_text, chunks_of, string_buffers
from scoring.records import ACTIVITY_TYPES, ActivityType

_Ints = npt.NDArray[np.int64]
_Bools = npt.NDArray[np.bool_]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
FIRST = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND
LAST = (datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC) - EPOCH) // MICROSECOND
EXACT = 2**53
"""Microseconds below this in size are exact as float64, so `us / 1e6` rounds once."""

_TYPE_NAMES = {t.value: t for t in ACTIVITY_TYPES}


def parse_activity_type(text: str) -> ActivityType | None:
    """The canonical type for a name such as 'email_open', 'Email open' or 'email-open'."""
    return _TYPE_NAMES.get(text.strip().lower().replace("-", "_").replace(" ", "_"))


def parse_moment(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text; naive values are taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one that leaves years 1-9999 in UTC
        return None


def moment_problem(value: Any) -> str:
    """Why `value` is not a moment `parse_moment` accepts, for an error message."""
    example = "expected an ISO-8601 date and time such as 2026-03-01T09:30:00Z"
    if isinstance(value, str) and _iso_text(value):
        return f"{value!r} is out of range: in UTC it falls outside the years 1 to 9999"
    return f"{example}, got {value!r}"


def _iso_text(value: str) -> bool:
    """Whether `value` is written as an ISO-8601 moment (whatever its range in UTC)."""
    try:
        datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


def micros_of(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware moment, exactly."""
    return (moment - EPOCH) // MICROSECOND


def moment_at(micros: int) -> datetime:
    """The aware UTC datetime `micros` microseconds after the epoch."""
    return EPOCH + timedelta(microseconds=micros)


def float_seconds(micros: _Ints) -> npt.NDArray[np.float64]:
    """Seconds since the epoch as `datetime.timestamp()` gives them (one correct rounding)."""
    seconds = micros / 1e6
    far = np.flatnonzero(np.abs(micros) >= EXACT)
    if len(far):
        seconds[far] = [m / 10**6 for m in micros[far].tolist()]
    return seconds


MOMENT_ROWS = 1 << 20
"""Rows parsed at a time, so that the temporaries stay small."""

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"
_ZONED = rf"^{_DATE}{_TIME}(?:Z|[+-]\d{{2}}:\d{{2}})$"
_NAIVE = rf"^{_DATE}(?:{_TIME})?$"
"""The shapes `fast_moments` reads, with a zone and without one, for Arrow's own parse."""
SLACK = 86_400 * 10**6
"""Arrow reads the year 0, which Python refuses: moments within a day of either end of
the years 1 to 9999 are left to `parse_moment`."""


def text_moments(column: Any) -> tuple[_Ints, _Bools]:
    """`fast_moments` of an Arrow text column (chunked or not): Arrow's own ISO-8601
    parse where all of a chunk has one of the shapes `fast_moments` reads, all with a
    zone or all without one (Arrow and Python agree on those, the ranges of days, hours,
    minutes and offsets alike, and a chunk Arrow refuses is read by `fast_moments`);
    `fast_moments` for the other chunks."""
    whole = _arrow_moments(column)
    if whole is not None:
        return whole
    parts = [_arrow_moments(chunk) or fast_moments(*string_buffers(chunk))
             for chunk in chunks_of(column)]  # fmt: skip
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _arrow_moments(column: Any) -> tuple[_Ints, _Bools] | None:
    """Arrow's parse of a column all of one of the shapes (see `text_moments`), or None."""
    import pyarrow as pa

    kind = column.type
    if (
        not len(column)
        or column.null_count
        or not (pa.types.is_string(kind) or pa.types.is_large_string(kind))
    ):
        return None
    first = column[0].as_py()
    zoned = first.endswith("Z") or (len(first) >= 22 and first[-6] in "+-")
    pattern = _ZONED if zoned else _NAIVE
    if not _shaped(column, pattern):
        return None
    try:
        stamps = column.cast(pa.timestamp("us", tz="UTC" if zoned else None))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    micros = np.asarray(stamps.cast(pa.int64()).to_numpy(zero_copy_only=False), np.int64)
    ok = (micros >= FIRST + SLACK) & (micros <= LAST - SLACK)
    return np.where(ok, micros, 0), ok


def _shaped(column: Any, pattern: str) -> bool:
    """Whether every text of an Arrow column (no nulls) matches `pattern`. A chunk whose
    texts all have the first text's length, with digits where it has digits and its
    bytes elsewhere, matches where the first does (the patterns are ASCII, and a digit
    there is any of 0-9): numpy over the chunk's bytes; other chunks by Arrow's regular
    expressions."""
    import pyarrow.compute as pc

    chunks = [chunk for chunk in chunks_of(column) if len(chunk)]
    if not chunks:
        return True
    if not pc.match_substring_regex(chunks[0].slice(0, 1), pattern)[0].as_py():
        return False
    template = np.frombuffer(chunks[0][0].as_buffer(), dtype=np.uint8).copy()
    digit = (template >= ord("0")) & (template <= ord("9"))
    return all(
        _like(chunk, template, digit) or pc.all(pc.match_substring_regex(chunk, pattern)).as_py()
        for chunk in chunks
    )


def _like(chunk: Any, template: npt.NDArray[np.uint8], digit: npt.NDArray[np.bool_]) -> bool:
    """Whether every text of a string chunk has `template`'s length, a digit where it has
    one (`digit`) and its bytes elsewhere."""
    size = len(template)
    bounds, raw = chunk_text(chunk)
    first = int(bounds[0])
    if int(bounds[-1]) - first != size * len(chunk) or not bool((np.diff(bounds) == size).all()):
        return False
    cells = raw[first : first + size * len(chunk)].reshape(len(chunk), size)
    # one expression each, so that numpy writes each step over the one before
    return bool((((cells - ord("0")) < 10) | ~digit).all()) and bool(
        ((cells == template) | digit).all()
    )


def fast_moments(
    offsets: npt.NDArray[np.integer[Any]], data: npt.NDArray[np.uint8]
) -> tuple[_Ints, _Bools]:
    """Microseconds since the epoch of each text of a UTF-8 column (`offsets` into `data`,
    as Arrow lays strings out), and whether the value was one of the common shapes read
    here; the others (and any value out of range) are for `parse_moment`."""
    n = len(offsets) - 1
    micros, ok = np.zeros(n, np.int64), np.zeros(n, bool)
    for first in range(0, n, MOMENT_ROWS):
        last = min(n, first + MOMENT_ROWS)
        micros[first:last], ok[first:last] = _moments_of(offsets[first : last + 1], data)
    return micros, ok


def _moments_of(
    offsets: npt.NDArray[np.integer[Any]], data: npt.NDArray[np.uint8]
) -> tuple[_Ints, _Bools]:
    starts = offsets[:-1].astype(np.int64)
    size = (offsets[1:] - offsets[:-1]).astype(np.int64)
    n = len(size)
    if n == 0 or len(data) == 0:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    width = int(size[0])
    shape = _shape(bytes(data[int(starts[0]) : int(starts[0]) + width]))
    if shape is None or not bool((size == width).all()):
        return _any_width(starts, size, data)
    # every text of one length, as most exports write them: a matrix, read by columns
    base = int(starts[0])
    grid = data[base : base + n * width].reshape(n, width)
    digits, literal = shape
    fits = np.ones(n, dtype=bool)
    for at in literal:
        fits &= grid[:, at] == grid[0, at]
    d = grid[:, digits].astype(np.int16) - 48
    fits &= ((d >= 0) & (d <= 9)).all(axis=1)
    micros, ok = _from_digits(d.astype(np.int64), width, len(digits), grid)
    ok &= fits
    rest = np.flatnonzero(~fits)
    if len(rest):
        micros[rest], ok[rest] = _any_width(starts[rest], size[rest], data)
    return micros, ok


def _shape(first: bytes) -> tuple[list[int], list[int]] | None:
    """Where a text shaped as `first` holds digits, and where its other characters are,
    when `first` is of a shape `fast_moments` reads; None otherwise."""
    text = first.decode("latin-1")
    width = len(text)
    digits = [0, 1, 2, 3, 5, 6, 8, 9]
    marks = {4: "-", 7: "-"}
    if width >= 16:
        zone = 1 if text.endswith("Z") else 6 if width >= 22 and text[-6] in "+-" else 0
        end = width - zone
        digits += [11, 12, 14, 15]
        marks.update({10: text[10] if text[10] in "T " else "T", 13: ":"})
        if end >= 19 and text[16] == ":":
            digits += [17, 18]
            marks[16] = ":"
            if end > 19:
                if not 21 <= end <= 26:
                    return None
                digits += list(range(20, end))
                marks[19] = "."
        elif end != 16:
            return None
        if zone == 1:
            marks[width - 1] = "Z"
        elif zone == 6:
            digits += [width - 5, width - 4, width - 2, width - 1]
            marks.update({width - 6: text[-6], width - 3: ":"})
    elif width != 10:
        return None
    literal = [at for at in range(width) if at not in digits]
    if sorted(literal) != sorted(marks) or any(text[at] != marks[at] for at in literal):
        return None
    if not all(text[at].isdigit() and text[at].isascii() for at in digits):
        return None
    return digits, literal


def _from_digits(
    d: _Ints, width: int, count: int, grid: npt.NDArray[np.uint8]
) -> tuple[_Ints, _Bools]:
    """Moments from the digit columns of texts of one shape (see `_shape`)."""
    n = len(d)

    def number(*columns: int) -> _Ints:
        value = np.zeros(n, dtype=np.int64)
        for c in columns:
            value = value * 10 + d[:, c]
        return value

    year, month, day = number(0, 1, 2, 3), number(4, 5), number(6, 7)
    zero = np.zeros(n, dtype=np.int64)
    hour, minute, second, micro, offset = zero, zero, zero, zero, zero
    used = 8
    if count > 8:
        hour, minute, used = number(8, 9), number(10, 11), 12
    shifted = width >= 22 and chr(grid[0, width - 6]) in "+-"
    fraction_end = count - (4 if shifted else 0)
    if used < fraction_end:
        second, used = number(used, used + 1), used + 2
    if used < fraction_end:
        places = fraction_end - used
        micro = number(*range(used, fraction_end)) * 10 ** (6 - places)
    ok = (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    month = np.clip(month, 1, 12)
    ok &= (day <= _days_in_month(year, month)) & (hour <= 23) & (minute <= 59) & (second <= 59)
    if shifted:
        off_h, off_m = number(count - 4, count - 3), number(count - 2, count - 1)
        ok &= (off_h <= 23) & (off_m <= 59)
        sign = np.where(grid[:, width - 6] == 45, -1, 1)
        offset = sign * (off_h * 3600 + off_m * 60)
    local = ((_days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    micros = (local - offset) * 1_000_000 + micro
    ok &= (micros >= FIRST) & (micros <= LAST)
    return np.where(ok, micros, 0), ok


def _any_width(starts: _Ints, size: _Ints, data: npt.NDArray[np.uint8]) -> tuple[_Ints, _Bools]:
    """`fast_moments` for texts of any lengths, each character gathered by its offset."""
    n = len(size)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    top = len(data) - 1

    def char(at: int) -> npt.NDArray[np.uint8]:
        return gather(starts + at)

    def back(by: int) -> npt.NDArray[np.uint8]:
        return gather(starts + size - by)

    def gather(index: _Ints) -> npt.NDArray[np.uint8]:
        np.minimum(index, top, out=index)
        np.maximum(index, 0, out=index)
        return np.asarray(data[index], dtype=np.uint8)

    def digits(*at: int) -> tuple[_Ints, _Bools]:
        value, ok = np.zeros(n, np.int64), np.ones(n, bool)
        for k in at:
            d = char(k).astype(np.int64) - 48
            ok &= (d >= 0) & (d <= 9)
            value = value * 10 + d
        return value, ok

    year, ok = digits(0, 1, 2, 3)
    month, good = digits(5, 6)
    ok &= good & (char(4) == 45) & (char(7) == 45)
    day, good = digits(8, 9)
    ok &= good & ((size == 10) | (size >= 16))
    timed = size >= 16
    sep = char(10)
    hour, good_h = digits(11, 12)
    minute, good_m = digits(14, 15)
    ok &= ~timed | (good_h & good_m & ((sep == 84) | (sep == 32)) & (char(13) == 58))
    # the zone: Z, or +HH:MM / -HH:MM at the end
    zulu = timed & (back(1) == 90)
    sign = back(6)
    shifted = timed & ((sign == 43) | (sign == 45)) & (back(3) == 58) & (size >= 22)
    off = np.zeros(n, np.int64)
    good = np.ones(n, bool)
    for by in (5, 4, 2, 1):
        d = back(by).astype(np.int64) - 48
        good &= (d >= 0) & (d <= 9)
        off = off * 10 + d
    shifted &= good
    off_h, off_m = off // 100, off % 100
    shifted &= (off_h <= 23) & (off_m <= 59)
    end = size - np.where(zulu, 1, np.where(shifted, 6, 0))
    # seconds and a fraction of one to six digits
    seconds = timed & (end >= 19) & (char(16) == 58)
    second, good_s = digits(17, 18)
    ok &= ~seconds | good_s
    second = np.where(seconds, second, 0)
    fraction = seconds & (end >= 21) & (char(19) == 46) & (end <= 26)
    micro = np.zeros(n, np.int64)
    for k in range(6):
        at = 20 + k
        d = char(at).astype(np.int64) - 48
        inside = fraction & (at < end)
        ok &= ~inside | ((d >= 0) & (d <= 9))
        micro = micro * 10 + np.where(inside, d, 0)
    ok &= ~timed | np.where(seconds, np.where(fraction, True, end == 19), end == 16)
    ok &= (size == 10) | timed
    hour, minute = np.where(timed, hour, 0), np.where(timed, minute, 0)
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    ok &= day <= _days_in_month(year, np.clip(month, 1, 12))
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    days = _days_from_civil(year, np.clip(month, 1, 12), day)
    local = ((days * 24 + hour) * 60 + minute) * 60 + second
    offset = np.where(shifted, np.where(sign == 45, -1, 1) * (off_h * 3600 + off_m * 60), 0)
    micros = (local - offset) * 1_000_000 + micro
    ok &= (micros >= FIRST) & (micros <= LAST)
    return np.where(ok, micros, 0), ok


def _days_in_month(year: _Ints, month: _Ints) -> _Ints:
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    table = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    return np.asarray(table[month] + (leap & (month == 2)), dtype=np.int64)


def _days_from_civil(year: _Ints, month: _Ints, day: _Ints) -> _Ints:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return np.asarray(era * 146097 + doe - 719468, dtype=np.int64)
