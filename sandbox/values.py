"""Array helpers that more than one emulator's projection of the world needs."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def last_per_row(rows: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(unique rows, position of each row's last entry) of a row column."""
    unique, first_from_end = np.unique(rows[::-1], return_index=True)
    return unique, len(rows) - 1 - first_from_end
