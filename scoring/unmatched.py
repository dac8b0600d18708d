"""A behaviour rule's points and counts where none of its activities matched: a person
scored alone (a webhook trigger) has a few activities, and most rules match none of them.

The arrays are those the engine's general path gives for no match (`np.bincount`'s
counts, zero points), without its passes over empty arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.frames import FloatArray
from scoring.rules import Rule


def unmatched(rule: Rule, size: int) -> tuple[FloatArray, npt.NDArray[np.integer[Any]]]:
    """Zero points and counts for `size` contacts, in the dtypes of a match (counts as
    `np.bincount` gives them; points times the rule's, a negative rule's a negative 0)."""
    counts = np.zeros(size, dtype=np.intp)
    if rule.once or rule.half_life_days is not None:
        return np.zeros(size, dtype=np.float64), counts
    return counts.astype(np.float64) * rule.points, counts
