"""The columns `write_columns` takes, as Arrow arrays: numpy arrays, masked arrays,
`(codes, categories)` pairs, and text packed as offsets and bytes, put in an order or made
a block at a time by threads (`scoring.reasons`), which a writer takes a slice at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def repeats(array: Any) -> bool:
    """Whether an Arrow column is coded (a dictionary array) with at most half as many
    distinct values as rows."""
    import pyarrow as pa

    if not pa.types.is_dictionary(array.type):
        return False
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    return 2 * max((len(chunk.dictionary) for chunk in chunks), default=0) <= len(array)


class _Ordered:
    """Text in an order, put in that order a slice at a time (`slice`, as Arrow's arrays
    slice): a million reasons are never copied whole into the order they are written in."""

    def __init__(self, texts: Any, order: npt.NDArray[np.int64]):
        self.texts, self.order = texts, order

    def __len__(self) -> int:
        return len(self.order)

    def slice(self, first: int, count: int) -> Any:
        import pyarrow as pa

        return self.texts.take(pa.array(self.order[first : first + count]))


def arrow_column(column: Any, lazy: bool = False) -> Any:
    """A column as an Arrow array (`lazy`: packed text with an order, or made a block at a
    time, as an object whose `slice` gives an Arrow array: see `later`)."""
    import pyarrow as pa

    if isinstance(column, pa.Array | pa.ChunkedArray):
        return column
    if hasattr(column, "block") and hasattr(column, "block_rows"):
        return _Blocks(column) if lazy else arrow_column(column.packed())
    if hasattr(column, "offsets") and hasattr(column, "data"):
        offsets = np.ascontiguousarray(column.offsets, dtype=np.int64)
        data = np.frombuffer(column.data, dtype=np.uint8) if len(column.data) else b""
        texts = pa.LargeStringArray.from_buffers(
            len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(data)
        )
        order = getattr(column, "order", None)
        if order is None:
            return texts
        order = np.asarray(order, dtype=np.int64)
        return _Ordered(texts, order) if lazy else texts.take(pa.array(order))
    if isinstance(column, tuple):
        codes, categories = column
        indices = pa.array(codes, type=pa.int32(), mask=codes < 0)
        if not isinstance(categories, pa.Array):  # (an Arrow array is taken as it is)
            categories = pa.array(categories.tolist(), type=pa.string())
        return pa.DictionaryArray.from_arrays(indices, categories)
    if isinstance(column, np.ma.MaskedArray):  # masked cells: no value
        return pa.array(np.ma.getdata(column), mask=np.ma.getmaskarray(column))
    array = np.asarray(column)
    if array.dtype.kind == "O":
        try:
            return pa.array(array, type=pa.string())
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # cells that are not text: as str() has them
            return pa.array([None if v is None else str(v) for v in array.tolist()], pa.string())
    return pa.array(array)


class _Blocks:
    """Text made a block of rows at a time (`block(k)`: its lengths and bytes), put in
    Arrow's layout a slice at a time, each slice waiting for the blocks it holds only."""

    def __init__(self, text: Any):
        self.text = text

    def __len__(self) -> int:
        return len(self.text)

    def slice(self, first: int, count: int) -> Any:
        import pyarrow as pa

        size = self.text.block_rows
        count = max(0, min(count, len(self) - first))
        if not count:
            return pa.array([], type=pa.large_string())
        done = [self.text.block(k) for k in range(first // size, (first + count - 1) // size + 1)]
        sizes = np.concatenate([lengths for lengths, _ in done])
        offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        data = b"".join(text for _, text in done)
        whole = pa.LargeStringArray.from_buffers(
            len(sizes), pa.py_buffer(offsets), pa.py_buffer(data)
        )
        return whole.slice(first - first // size * size, count)


def later(array: Any) -> bool:
    """Whether `arrow_column` gave a column that is taken a slice at a time."""
    return isinstance(array, _Ordered | _Blocks)
