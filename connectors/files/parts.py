"""Large text columns looked up or coded a part at a time.

A hash set of a million texts is larger than the processor's caches, so that nearly
every probe of it, and every insert while it is built, is a miss. Texts are cut into
`TEXT_PARTS` parts that equal texts share (`text_parts`, a hash of a few of their bytes), and
each part is looked up in, or coded by, a set an eighth of the size, two parts at a time
on two threads (Arrow's lookups and codings let go of the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.files.table import chunk_text, chunkless, chunks_of, indices_of, rows_at

_Ints = npt.NDArray[np.int64]
_Rows = npt.NDArray[np.int32]


def looked_up_by_parts(column: Any, ids: Any, part: npt.NDArray[np.uint8]) -> _Rows:
    """`looked_up(column, ids)` a part at a time (`part`, per cell: `text_parts`), each
    part's cells in the ids of that part only, on two threads (Arrow's lookups let go of
    the GIL). A part's set of ids is an eighth of the whole and stays in the processor's
    cache, where a probe in the set of all ids was a miss: 10M cells in 1M ids took 0.55
    to 0.6 s, against 1.2 s in two halves."""
    import pyarrow as pa

    cells, cell_edges = grouped(part)
    known, known_edges = grouped(text_parts(ids))  # ascending in each: a repeat's first
    rows = np.empty(len(column), dtype=np.int32)

    def one_part(k: int) -> None:
        mine = cells[cell_edges[k] : cell_edges[k + 1]]
        theirs = known[known_edges[k] : known_edges[k + 1]]
        found = looked_up(rows_at(column, mine), ids.take(pa.array(theirs)))
        places = np.append(theirs, -1)  # (-1: found nowhere)
        rows[mine] = places[np.where(found >= 0, found, len(theirs))]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one_part, range(TEXT_PARTS)))
    return rows


def looked_up(cells: Any, ids: Any) -> _Rows:
    """Each cell's position in `ids` (-1 where absent): one Arrow lookup."""
    import pyarrow.compute as pc

    found = pc.index_in(cells, value_set=ids).fill_null(-1)
    return np.require(found.to_numpy(zero_copy_only=False), np.int32, ["W"])


TEXT_PART_BITS = 3
TEXT_PARTS = 1 << TEXT_PART_BITS
"""The parts a large text column is looked up or coded in (`text_parts`)."""


def grouped(part: npt.NDArray[np.uint8]) -> tuple[_Ints, _Ints]:
    """The positions of `part`'s values grouped by part (ascending within each), and
    where each part's begin and end among them."""
    order = np.argsort(part, kind="stable")
    return order, np.searchsorted(part[order], np.arange(TEXT_PARTS + 1))


def text_parts(texts: Any) -> npt.NDArray[np.uint8]:
    """Per text of an Arrow text column (chunked or not), a part below `TEXT_PARTS` that equal
    texts share: a hash of its first byte, its last two and its length (an empty text, or
    a missing one: part 0). Ids differ most at their end, addresses at their start."""
    found = []
    for chunk in chunks_of(texts):
        if not len(chunk):
            continue
        bounds, raw = chunk_text(chunk)
        raw = raw if len(raw) else np.zeros(1, dtype=np.uint8)  # (no text holds a byte)
        ends, lengths = bounds[1:], np.diff(bounds)
        last = raw[np.clip(ends - 1, 0, len(raw) - 1)].astype(np.uint32)
        before = np.where(lengths >= 2, raw[np.clip(ends - 2, 0, len(raw) - 1)], 0)
        first = raw[np.clip(bounds[:-1], 0, len(raw) - 1)].astype(np.uint32)
        key = last | before.astype(np.uint32) << 8 | first << 16
        key |= (lengths.astype(np.uint32) & 0xFF) << 24
        mixed = key * np.uint32(0x9E3779B1)  # (Fibonacci hashing: the top bits mix all)
        part = (mixed >> np.uint32(32 - TEXT_PART_BITS)).astype(np.uint8)
        part[lengths == 0] = 0
        if chunk.null_count:  # (a missing text may still span bytes)
            part[~chunk.is_valid().to_numpy(zero_copy_only=False)] = 0
        found.append(part)
    return np.concatenate(found) if found else np.zeros(0, dtype=np.uint8)


CODED_ROWS = 1 << 17
"""Texts from which `coded_by_parts` codes a part at a time (below, in one coding)."""


def coded_by_parts(texts: Any) -> tuple[_Rows, Any]:
    """`pc.dictionary_encode` of Arrow text (chunked or not) a part at a time: each text's
    code (-1 where missing) in the distinct texts, numbered in the order they first
    occur, and those texts as one Arrow array, as one coding of the whole column gives
    them (1M addresses, nearly all distinct: 0.1 s, against 0.23 to 0.3 s). Below
    `CODED_ROWS` texts, one coding. Each part's texts are coded apart; a text's first
    occurrence is found by its part's codes, and the codes are numbered across parts by
    the rows those occurrences are on."""
    import pyarrow.compute as pc

    n = len(texts)
    if n < CODED_ROWS:
        whole = pc.dictionary_encode(texts)
        return indices_of(whole), (chunks_of(whole)[0].dictionary if n else chunkless(texts))
    cells, edges = grouped(text_parts(texts))
    first_of = np.full(n, -1, dtype=np.int64)  # per row, the first row holding its text

    def one_part(k: int) -> None:
        mine = cells[edges[k] : edges[k + 1]]
        if not len(mine):
            return
        coded = pc.dictionary_encode(rows_at(texts, mine))
        local = indices_of(coded).astype(np.int64)
        rising = np.maximum.accumulate(local)  # codes are numbered as they first occur
        firsts = np.flatnonzero(np.concatenate(([local[0] >= 0], rising[1:] > rising[:-1])))
        held = np.flatnonzero(local >= 0)
        first_of[mine[held]] = mine[firsts][local[held]]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one_part, range(TEXT_PARTS)))
    starts = first_of == np.arange(n)
    number = np.cumsum(starts) - 1
    codes = np.where(first_of >= 0, number[np.maximum(first_of, 0)], -1).astype(np.int32)
    distinct = texts if starts.all() else rows_at(texts, np.flatnonzero(starts))
    return codes, chunkless(distinct)
