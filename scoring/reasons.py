"""The reasons of a whole batch at once, as one packed column of text.

`ScoreBatch.reasons_text(row)` is the definition; `reasons_column` gives the same text
for every contact of a batch without a Python loop over contacts:

1. every (contact, rule) that fired and every dimension limit that bit is an entry,
   with its points, count and label;
2. one sort puts each contact's entries in the order `ScoreBatch.reasons` gives
   (disqualifying rules, other rules, limits; larger points first), another
   apportions whole points by largest remainder (`explain.apportion`);
3. an entry's text depends on its label, whole points, shown count and note only, so
   each distinct one is written once by `Reason.describe`;
4. each contact's text is its entries' texts joined, copied into one buffer.

The column is made in the order asked (the ranking), a block of rows at a time on two
threads from the call on, so that a writer can write the first rows while the last are
made (`LaterText`); each rule's hits are moved to their rows in that order first.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring.entry_order import distinct_entries, largest_first
from scoring.explain import SEPARATOR, Reason, RuleFacts, detail_of, number, rule_facts

if TYPE_CHECKING:
    from scoring.explain import ScoreBatch

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]
_Bools = npt.NDArray[np.bool_]
_DISQUALIFIED = "DISQUALIFIED"


@dataclass(frozen=True, eq=False)
class PackedText:
    """Texts as Arrow lays them out: text i is `data[offsets[i]:offsets[i + 1]]`, UTF-8;
    row r of the column is text `order[r]` (text r without an order)."""

    offsets: _Ints
    data: bytes
    order: _Ints | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1 if self.order is None else len(self.order)

    def value(self, row: int) -> str:
        at = row if self.order is None else int(self.order[row])
        return self.data[int(self.offsets[at]) : int(self.offsets[at + 1])].decode("utf-8")

    def tolist(self) -> list[str]:
        return [self.value(row) for row in range(len(self))]


def _labels(batch: ScoreBatch) -> list[RuleFacts]:
    """Per label: the facts of each rule (`explain.rule_facts`), then of each limit."""
    facts = [rule_facts(batch.rules, r) for r in batch.rules.rules]
    for bound in ("capped at", "floored at"):
        for name, dim in batch.rules.dimensions.items():
            limit = dim.cap if bound == "capped at" else dim.floor
            text = f"{dim.label or name} {bound} {number(limit or 0)}"
            facts.append((f"{name}_limit", text, name, 0.0, None, False, False, False))
    return facts


def _isclose(a: _Floats, b: _Floats, rel: float, absolute: float) -> _Bools:
    """`math.isclose` elementwise (finite values)."""
    scale = np.maximum(rel * np.maximum(np.abs(a), np.abs(b)), absolute)
    return np.asarray((a == b) | (np.abs(a - b) <= scale), dtype=bool)


BLOCK = 1 << 14
"""Contacts whose reasons are built at a time, so that the temporaries stay small: a
block's arrays (contacts x rules) are a few MB, memory the allocator hands back to the
next block, where blocks of 65,536 asked the system for fresh pages each time (a third
of the reasons' time went to the kernel filling them)."""


def reasons_column(batch: ScoreBatch, order: npt.NDArray[np.integer[Any]]) -> LaterText:
    """`batch.reasons_text(int(c))` for each contact c of `order` (each contact once at
    most: `ValueError` otherwise), in that order: made a block of rows at a time on two
    threads (numpy's sorts and arithmetic let go of the GIL), from this call on, while
    the caller goes on; a block is waited for when read."""
    rules = batch.rules.rules
    # the rule columns in the order reasons sort in: disqualifying rules first
    columns = np.array(
        [i for i, r in enumerate(rules) if r.disqualify]
        + [i for i, r in enumerate(rules) if not r.disqualify],
        dtype=np.int64,
    )
    disqualifying = sum(r.disqualify for r in rules)
    dims = batch.dimensions.shape[1]
    segments = [(0, disqualifying), (disqualifying, len(rules)), (len(rules), len(rules) + dims)]
    book = _TextBook(_labels(batch))
    rows = np.asarray(order, dtype=np.int64)
    if len(rows) and int(np.bincount(rows, minlength=len(batch)).max()) > 1:
        raise ValueError("an order of the batch's rows repeats a row")
    pool = ThreadPoolExecutor(max_workers=2)
    half = len(batch.rule_hits) // 2  # each thread moves half the rules' hits
    parts = [
        pool.submit(_moved, batch, rows, rules)
        for rules in (range(half), range(half, len(batch.rule_hits)))
    ]
    view = _Later(batch, rows, parts)
    blocks = [
        pool.submit(lambda k: _block(view.result(), k, columns, segments, book), k)
        for k in range(-(-len(rows) // BLOCK))
    ]
    pool.shutdown(wait=False)  # the threads end when the last block is made
    return LaterText(len(rows), blocks)


class LaterText:
    """Texts made a block of `BLOCK` rows at a time, by threads: `block(k)` waits for
    block k's text lengths (bytes) and UTF-8 text, one after another; `packed()` the
    whole column as a `PackedText`."""

    def __init__(self, rows: int, blocks: list[Future[tuple[_Ints, bytes]]]):
        self.rows, self.blocks, self.block_rows = rows, blocks, BLOCK

    def __len__(self) -> int:
        return self.rows

    def block(self, index: int) -> tuple[_Ints, bytes]:
        return self.blocks[index].result()

    @cached_property
    def _whole(self) -> PackedText:
        done = [self.block(k) for k in range(len(self.blocks))]
        sizes = np.concatenate([size for size, _ in done]) if done else np.zeros(0, np.int64)
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        return PackedText(offsets, b"".join(text for _, text in done))

    def packed(self) -> PackedText:
        return self._whole

    def value(self, row: int) -> str:
        return self._whole.value(row)

    def tolist(self) -> list[str]:
        return self._whole.tolist()


@dataclass(frozen=True, eq=False)
class _Hits:
    """One rule's hits at their rows in a column's order, grouped by block: those of
    block k are `rows[edges[k]:edges[k + 1]]` (ascending within it or not)."""

    rows: npt.NDArray[np.integer[Any]]
    counts: npt.NDArray[np.integer[Any]]
    points: npt.NDArray[np.floating[Any]]
    measure: _Floats | None
    edges: _Ints


@dataclass(frozen=True, eq=False)
class _View:
    """What the reasons read of a batch, its contacts in a column's order."""

    batch: ScoreBatch
    hits: list[_Hits]
    dimensions: npt.NDArray[np.float64]
    uncapped: npt.NDArray[np.float64]
    total: _Floats
    disqualified: _Bools

    def __len__(self) -> int:
        return len(self.total)


def _moved(batch: ScoreBatch, order: _Ints, rules: range) -> list[_Hits]:
    """The hits of `rules` moved to their contacts' places in `order` and grouped by block
    (a stable sort of their block numbers, by radix up to 65,536 blocks), not sorted."""
    n, count = len(order), -(-len(order) // BLOCK)
    starts = np.arange(count + 1, dtype=np.int64) * BLOCK
    if n == len(batch) and np.array_equal(order, np.arange(n)):  # the frame's own order
        return [
            _Hits(h.rows, h.counts, h.points, h.measure, np.searchsorted(h.rows, starts))
            for h in (batch.rule_hits[r] for r in rules)
        ]
    place = np.full(len(batch), -1, dtype=np.int64)  # a contact's row in the column
    place[order] = np.arange(n)
    hits = []
    for h in (batch.rule_hits[r] for r in rules):
        at = place[h.rows]
        kept = np.flatnonzero(at >= 0) if n < len(batch) else None
        if kept is not None:
            at = at[kept]
        block = at // BLOCK
        narrow = block.astype(np.uint16) if count <= 1 << 16 else block
        moved = np.argsort(narrow, kind="stable")
        picked = moved if kept is None else kept[moved]
        measure = None if h.measure is None else h.measure[picked]
        edges = np.searchsorted(block[moved], np.arange(count + 1))
        hits.append(_Hits(at[moved], h.counts[picked], h.points[picked], measure, edges))
    return hits


class _Later:
    """The batch's contacts in an order (`_View`), once the threads moving its rules' hits
    (`_moved`) are done: made by the first block that asks, under a lock."""

    def __init__(self, batch: ScoreBatch, order: _Ints, parts: list[Future[list[_Hits]]]):
        self.batch, self.order, self.parts = batch, order, parts
        self.lock = threading.Lock()
        self.view: _View | None = None

    def result(self) -> _View:
        with self.lock:
            if self.view is None:
                hits = [h for part in self.parts for h in part.result()]
                batch, order = self.batch, self.order
                if len(order) == len(batch) and np.array_equal(order, np.arange(len(order))):
                    self.view = _View(batch, hits, batch.dimensions, batch.uncapped,
                                      batch.total, batch.disqualified)  # fmt: skip
                else:
                    self.view = _View(batch, hits, batch.dimensions[order],
                                      batch.uncapped[order], batch.total[order],
                                      batch.disqualified[order])  # fmt: skip
            return self.view


class _TextBook:
    """The distinct texts of entries met so far, and their pieces (alone, or after the
    separator); piece 0 is DISQUALIFIED."""

    def __init__(self, facts: list[RuleFacts]):
        self.facts = facts
        self.ids: dict[tuple[int, ...], int] = {}
        self.pieces: list[bytes] = [_DISQUALIFIED.encode()]
        self.lock = threading.Lock()

    def add(self, key: tuple[int, ...], reason: Reason, whole: int) -> int:
        with self.lock:
            found = self.ids.get(key)
            if found is None:
                text = reason.describe(whole)
                found = self.ids[key] = len(self.ids)
                self.pieces += [text.encode(), (SEPARATOR + text).encode()]
            return found


@dataclass(frozen=True, eq=False)
class _Entries:
    """The entries of a block's rows, row by row, and in a row column by column."""

    rows: _Ints
    """The row of each in the block."""
    columns: _Ints
    """Column j is rule `columns[j]` (of `reasons_column`), then one per dimension's limit."""
    counts: _Ints
    points: _Floats
    measures: _Floats | None
    """What a measuring rule measured (0 for others); None where no rule measures."""
    width: int
    """The columns: rules, then dimensions."""


def _entries(view: _View, block: int, columns: _Ints) -> _Entries:
    """The entries of the rows of `block`: each rule's hits (every hit has a count:
    `RuleHits` keeps no contact a rule did not match), then each dimension's limit that
    bit (count 1, points what the limit took or gave). They are laid out one column after
    another, and one stable sort by row puts them row by row: a radix sort, as a block's
    rows are 16-bit numbers (where a matrix of rows x columns was filled and searched,
    the reasons of 1M contacts took 0.1 s more processor time)."""
    start, stop = block * BLOCK, min(len(view), (block + 1) * BLOCK)
    width, dims = len(columns), view.dimensions.shape[1]
    hits = [view.hits[rule] for rule in columns.tolist()]
    spans = [(int(h.edges[block]), int(h.edges[block + 1])) for h in hits]
    excess = view.dimensions[start:stop] - view.uncapped[start:stop]
    limits = np.flatnonzero(excess.reshape(-1) != 0.0)  # (row * dims + dimension)
    per_dim = max(dims, 1)  # (no dimension: no limit)

    def laid(part: Callable[[_Hits, int, int], Any], limit: Any) -> Any:
        """A value per entry: `part` of each rule's hits `a` to `b`, then `limit`."""
        return np.concatenate([part(h, a, b) for h, (a, b) in zip(hits, spans, strict=True)]
                              + [limit])  # fmt: skip

    rows = laid(lambda h, a, b: h.rows[a:b] - start, limits // per_dim)
    sizes = [b - a for a, b in spans]
    column = np.concatenate((np.repeat(np.arange(width), sizes), width + limits % per_dim))
    counts = laid(lambda h, a, b: h.counts[a:b], np.ones(len(limits), np.int64))
    points = laid(lambda h, a, b: h.points[a:b], excess.reshape(-1)[limits])
    measures = None
    if any(h.measure is not None for h in hits):
        measures = laid(lambda h, a, b: np.zeros(b - a) if h.measure is None else h.measure[a:b],
                        np.zeros(len(limits)))  # fmt: skip
    narrow = rows.astype(np.uint16) if stop - start <= 1 << 16 else rows
    order = np.argsort(narrow, kind="stable")
    return _Entries(
        rows[order].astype(np.int64),
        column[order],
        counts[order].astype(np.int64, copy=False),
        points[order].astype(np.float64, copy=False),
        None if measures is None else measures[order].astype(np.float64, copy=False),
        width + dims,
    )


def _block(
    view: _View,
    block: int,
    columns: _Ints,
    segments: list[tuple[int, int]],
    book: _TextBook,
) -> tuple[_Ints, bytes]:
    """The reasons of the rows of `block`: each one's length in bytes, and their texts
    one after another."""
    rows = slice(block * BLOCK, min(len(view), (block + 1) * BLOCK))
    # the rules' columns in `columns` order, then one per dimension's limit (count 1)
    rule_count = len(columns)
    entries = _entries(view, block, columns)
    m = rows.stop - rows.start
    # per contact: disqualifying rules, other rules, limits; larger points first, stably:
    # one sort of the entries (row by row, each row's columns in order)
    found_row, found_column, found_points = entries.rows, entries.columns, entries.points
    segment = np.searchsorted([high for _, high in segments], found_column, side="right")
    group = found_row * len(segments) + segment  # ascending already
    order = largest_first(group, np.abs(found_points))
    row, column, pts = found_row[order], found_column[order], found_points[order]
    count = entries.counts[order]
    limit = column >= rule_count
    dims = entries.width - rule_count
    slot = np.append(columns, 0)[np.minimum(column, rule_count)]
    label = np.where(limit, column + np.where(pts > 0, dims, 0), slot)
    # whole points by largest remainder, within each contact (`explain.apportion`)
    per_row = np.bincount(row, minlength=m)
    starts = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    position = np.arange(len(row)) - starts[row]
    floors = np.floor(pts)
    total = np.floor(view.total[rows] + 0.5)
    missing = np.clip(total - np.bincount(row, weights=floors, minlength=m), 0, per_row)
    # each entry's place within its contact by remainder (then by place), one sort
    by_remainder = largest_first(row, pts - floors)
    rank = np.empty(len(row), dtype=np.int64)
    rank[by_remainder] = np.arange(len(row)) - starts[row[by_remainder]]
    whole = (floors + (rank < missing[row])).astype(np.int64)
    # the text of each entry, written once per distinct (label, points, count, note)
    facts = book.facts
    each = np.array([f[3] for f in facts])[label]
    cap = np.array([math.nan if f[4] is None else f[4] for f in facts])[label]
    once = np.array([f[6] for f in facts], dtype=bool)[label]
    measured = None
    if entries.measures is not None:  # a measuring rule shows no count and has no decay
        measured = np.array([f[7] for f in facts], dtype=bool)[label]
        once |= measured
    base = each * np.where(once, 1, count)
    if measured is not None:
        base = np.where(measured, pts, base)
    capped = ~limit & ~np.isnan(cap) & _isclose(np.abs(pts), cap, 1e-9, 0.0)
    decayed = ~limit & ~_isclose(pts, base, 1e-9, 0.05)
    note = np.where(capped, 1, np.where(decayed & (whole != np.floor(base + 0.5)), 2, 0))
    shown = np.where(once | limit, 0, count)
    parts = [label, whole, shown, note]
    measure = bits = None
    if measured is not None and entries.measures is not None:  # what it measured: its text
        measure = np.where(measured, entries.measures[order], 0.0) + 0.0  # -0.0 is 0.0
        # found distinct by codes of this block (narrow keys pack), known across blocks
        # by the measure's own bits; only measuring rules' entries have one (a label
        # measures or not, so code 0 for the others keeps entries apart as the value did)
        codes = np.zeros(len(measure), dtype=np.int64)
        where = np.flatnonzero(measured)
        codes[where] = 1 + np.unique(measure[where], return_inverse=True)[1].reshape(-1)
        parts.append(codes)
        bits = measure.view(np.int64)
    first, inverse = distinct_entries(parts)
    ids = np.empty(len(first), dtype=np.int64)
    found = np.stack([part[first] for part in parts], axis=1)
    if bits is not None:
        found = np.concatenate((found[:, :-1], bits[first][:, None]), axis=1)
    distinct = [tuple(k) for k in found.tolist()]
    with book.lock:  # most entries were met in an earlier block: their text is written
        known = [book.ids.get(k, -1) for k in distinct]
    ids[:] = known
    for i in np.flatnonzero(ids < 0).tolist():
        e = int(first[i])
        rule_id, text, dimension, _, rule_cap, disqualify, is_once, measures = facts[int(label[e])]
        detail = None
        if measures and measure is not None:
            detail = detail_of(view.batch.rules.rules[int(label[e])], float(measure[e]))
        reason = Reason(
            rule_id,
            text,
            dimension,
            float(pts[e]),
            int(count[e]),
            float(base[e]),
            rule_cap if bool(capped[e]) else None,
            disqualify,
            limit=bool(limit[e]),
            once=is_once or measures,
            detail=detail,
        )
        ids[i] = book.add(distinct[i], reason, int(whole[e]))
    disqualified = view.disqualified[rows]
    alone = (position == 0) & ~disqualified[row]
    piece = 1 + 2 * ids[inverse] + np.where(alone, 0, 1)
    with book.lock:
        pieces = list(book.pieces)
    return _joined(pieces, piece, row, per_row, disqualified)


def _joined(
    pieces: list[bytes], piece: _Ints, row: _Ints, per_row: _Ints, disqualified: _Bools
) -> tuple[_Ints, bytes]:
    """Each row's pieces one after another, after DISQUALIFIED where it is: the length of
    each row's text in bytes, and the texts."""
    m = len(per_row)
    sizes = np.array([len(p) for p in pieces], dtype=np.int64)
    lead = disqualified.astype(np.int64)
    slots = per_row + lead
    slot_start = np.concatenate(([0], np.cumsum(slots)))
    starts = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    sequence = np.zeros(int(slot_start[-1]), dtype=np.int64)  # 0: DISQUALIFIED
    sequence[slot_start[row] + lead[row] + (np.arange(len(row)) - starts[row])] = piece
    lengths = np.bincount(np.repeat(np.arange(m), slots), weights=sizes[sequence], minlength=m)
    table = np.empty(len(pieces), dtype=object)
    table[:] = pieces
    return lengths.astype(np.int64), b"".join(table[sequence].tolist())


def exact_round(values: _Floats, digits: int = 2) -> _Floats:
    """`round(x, digits)` for each value, as Python rounds (the exact decimal value, half
    to even): numpy's scaled rounding, with Python's own for the values near a half."""
    scale = 10.0**digits
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = values * scale
        rounded = np.round(scaled) / scale
        fraction = np.abs(scaled - np.floor(scaled) - 0.5)
        doubt = (fraction <= 4 * np.abs(np.spacing(scaled))) | ~(np.abs(scaled) < 2.0**51)
    if doubt.any():
        rows = np.flatnonzero(doubt)
        rounded[rows] = [round(v, digits) for v in values[rows].tolist()]
    return rounded
