"""Email addresses in bulk: `normalize_email` and each address's domain, on whole columns.

A frame of many contacts normalizes its distinct addresses and derives their domains
with pyarrow's compute functions instead of a Python step per address: trimming
(`utf8_trim` with the characters `str.strip()` removes), lower-casing (`ascii_lower`
for ASCII text; Python's `str.lower` for the rare text that is not, whose special
cases such as `İ` Arrow's single-character tables do not share), and the domain
after the last `@` found by `split_pattern`. Each distinct domain is then handled
once (dictionary encoding): whether it is a free-mail domain, whether it is ASCII.

The results are those of `normalize_email` and of the per-address derivation in
`frames.py` for every input; values Arrow cannot hold as UTF-8 text (a lone
surrogate) or that are not text at all make the caller take the per-address path
(`arrow_text` gives None).
"""

from __future__ import annotations

import operator
import sys
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.records import WHITESPACE

BULK = 20_000
"""From this many distinct addresses on, the columnar path is used (below it, Python per
address is quicker than deriving each column in bulk)."""
ARROW = 500_000
"""From this many distinct addresses on, their domains are found by Arrow rather than by a
Python dictionary (`text_domains`), unless pyarrow's compute functions are loaded already:
below it, importing them costs more than they save."""


def arrow_text(values: list[str]) -> Any | None:
    """The texts as an Arrow string array, or None when one cannot be UTF-8 (a lone
    surrogate)."""
    import pyarrow as pa

    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def normalized_text(text: Any) -> Any:
    """`normalize_email` of each value of an Arrow string array: trimmed, lower-cased,
    null where blank (null stays null)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim(text, characters=WHITESPACE)
    ascii_only = pc.string_is_ascii(trimmed)
    lower = pc.ascii_lower(trimmed)
    if pc.all(ascii_only).as_py() is False:
        others = pc.invert(ascii_only).fill_null(False)
        spelled = [value.lower() for value in pc.filter(trimmed, others).to_pylist()]
        lower = pc.replace_with_mask(lower, others, pa.array(spelled, type=pa.string()))
    return pc.if_else(pc.equal(pc.binary_length(lower), 0), pa.scalar(None, pa.string()), lower)


@dataclass(frozen=True, eq=False)
class Joined:
    """Texts joined into one UTF-8 text with a NUL between two of them (`joined`), or one
    after another as Arrow lays them out (`laid_out`), as numpy bytes."""

    data: bytes
    ends: npt.NDArray[np.int64]
    """Where each text ends (the NUL after it, the next text, or the end of the data)."""
    begins: npt.NDArray[np.int64] | None = None
    """Where each text begins, where no NUL separates them."""

    @property
    def bytes(self) -> npt.NDArray[np.uint8]:
        return np.frombuffer(self.data, dtype=np.uint8)

    @property
    def starts(self) -> npt.NDArray[np.int64]:
        if self.begins is not None:
            return self.begins
        return np.append(np.int64(0), self.ends[:-1] + 1)

    @property
    def ascii(self) -> bool:
        return self.data.isascii()


def joined(texts: list[str]) -> Joined | None:
    """The texts joined, or None when one is not a `str`, holds a NUL or a lone surrogate."""
    if not texts:
        return Joined(b"", np.zeros(0, dtype=np.int64))
    try:
        data = "\x00".join(texts).encode("utf-8")
    except (TypeError, UnicodeEncodeError):
        return None
    breaks = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0)
    if len(breaks) != len(texts) - 1:  # a text holds a NUL
        return None
    return Joined(data, np.append(breaks, len(data)).astype(np.int64, copy=False))


def laid_out(text: Any) -> Joined:
    """The texts of an Arrow text array without nulls, one after another as Arrow holds
    them (a copy of their bytes, not a Python string each)."""
    import pyarrow as pa

    text = text.cast(pa.large_string())
    _, offsets, data = text.buffers()
    bounds = np.frombuffer(offsets, np.int64)[text.offset : text.offset + len(text) + 1]
    raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    first = int(bounds[0]) if len(bounds) else 0
    data_bytes = raw[first : int(bounds[-1])].tobytes() if len(bounds) else b""
    relative = bounds - first
    return Joined(data_bytes, relative[1:].copy(), relative[:-1].copy())


_SPACE = np.isin(np.arange(256), [ord(c) for c in WHITESPACE if ord(c) < 128])
"""Per byte, whether it is ASCII text that `str.strip()` removes."""


def ascii_normalized(texts: Joined) -> bool | None:
    """Whether `normalize_email` leaves every one of the texts as it is (None when they
    are not all ASCII): none blank, none with an upper-case letter, none that starts or
    ends with a space."""
    if not texts.ascii:
        return None
    data, starts, ends = texts.bytes, texts.starts, texts.ends
    if len(ends) == 0:
        return True
    if bool((ends <= starts).any()):
        return False
    if bool(((data >= ord("A")) & (data <= ord("Z"))).any()):
        return False
    return not bool(_SPACE[data[starts]].any() or _SPACE[data[ends - 1]].any())


@dataclass(frozen=True, eq=False)
class Domains:
    """The domain of each address: `address.rpartition("@")[2]`, present where the address
    has an `@` and something after its last one; each distinct domain held once."""

    present: npt.NDArray[np.bool_]
    codes: npt.NDArray[np.int32]
    """Per address its domain's index in `distinct` (that of "" where not present)."""
    distinct: npt.NDArray[np.object_]
    """The distinct domains."""
    distinct_free: npt.NDArray[np.bool_]
    """Per distinct domain whether it is a free-mail domain."""
    ascii: bool
    """Every domain is ASCII text."""

    @property
    def domains(self) -> npt.NDArray[np.object_]:
        """Per address its domain ("" where not present)."""
        return np.where(self.present, self.distinct[self.codes], "")

    @property
    def free(self) -> npt.NDArray[np.bool_]:
        """Per address whether its domain is a free-mail domain."""
        return self.distinct_free[self.codes] & self.present


def address_domains(addresses: Joined, free_domains: frozenset[str]) -> Domains:
    """The domain of each of the addresses, found in bulk.

    The last `@` of each address is found with numpy, and an Arrow string array is laid
    over the joined text whose values are, in turn, each address's part before its
    domain and its domain (every cut falls on an ASCII byte, so each value is UTF-8
    text); the domains are taken from it, dictionary-encoded, and each distinct one
    looked up in the free-mail list by Arrow.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    size = len(addresses.ends)
    data, ends = addresses.bytes, addresses.ends
    ats = np.flatnonzero(data == ord("@"))
    rows = np.searchsorted(ends, ats, side="right")  # (an end is the next text's start)
    last = np.append(rows[1:] != rows[:-1], True) if len(rows) else np.zeros(0, dtype=bool)
    starts = ends.copy()  # no @: an empty domain
    starts[rows[last]] = ats[last] + 1
    wide = len(data) >= 2**31
    offsets = np.empty(2 * size + 1, dtype=np.int64 if wide else np.int32)
    offsets[0], offsets[1::2], offsets[2::2] = 0, starts, ends
    kind = pa.LargeStringArray if wide else pa.StringArray
    pieces = kind.from_buffers(2 * size, pa.py_buffer(offsets), pa.py_buffer(addresses.data))
    encoded = pieces.take(pa.array(np.arange(1, 2 * size, 2))).dictionary_encode()
    distinct = encoded.dictionary  # each domain once: a million addresses, far fewer domains
    free = pc.is_in(distinct, value_set=pa.array(sorted(free_domains), type=pa.string()))
    return Domains(
        starts < ends,
        encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32, copy=False),
        np.asarray(distinct.to_numpy(zero_copy_only=False), dtype=object),
        free.to_numpy(zero_copy_only=False).astype(bool, copy=False),
        addresses.ascii or bool(pc.all(pc.string_is_ascii(distinct)).as_py()),
    )


def text_domains(addresses: list[str], texts: Joined, free_domains: frozenset[str]) -> Domains:
    """What `address_domains` gives for the same addresses (`texts`, them joined), found
    with a Python dictionary: each domain once, in the order it first appears, as Arrow's
    dictionary encoding orders them."""
    size = len(addresses)
    domains = list(map(itemgetter(2), map(str.rpartition, addresses, repeat("@"))))
    has_at = np.fromiter(map(operator.contains, addresses, repeat("@")), bool, size)
    for row in np.flatnonzero(~has_at).tolist():  # no @: an empty domain
        domains[row] = ""
    index = {domain: code for code, domain in enumerate(dict.fromkeys(domains))}
    codes = np.fromiter(map(index.__getitem__, domains), np.int32, size)
    distinct = np.empty(len(index), dtype=object)
    distinct[:] = list(index)
    empty = index.get("")
    return Domains(
        np.ones(size, dtype=bool) if empty is None else codes != empty,
        codes,
        distinct,
        np.fromiter(map(free_domains.__contains__, index), bool, len(index)),
        texts.ascii or all(map(str.isascii, index)),
    )


def domains_of(addresses: list[str], texts: Joined, free_domains: frozenset[str]) -> Domains:
    """The domain of each address, by Arrow (`address_domains`) for many addresses or once
    its compute functions are loaded, else by a dictionary (`text_domains`)."""
    if arrow_pays(len(addresses)):
        return address_domains(texts, free_domains)
    return text_domains(addresses, texts, free_domains)


def arrow_pays(count: int) -> bool:
    """Whether texts this many are worth Arrow's compute functions (`ARROW`)."""
    return count >= ARROW or "pyarrow.compute" in sys.modules


def web_domain(value: Any) -> str | None:
    """A company's `domain` property as an address's domain: `https://www.Acme.com/` ->
    `acme.com` (None: not text, or blank)."""
    if not isinstance(value, str):
        return None
    text = value.strip().casefold()
    text = text.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return text.removeprefix("www.") or None
