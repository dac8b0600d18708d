"""Grades: the band of the rules' grades each contact's level falls in."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.frames import FloatArray
from scoring.rules import RuleSet


def grade_bands(rules: RuleSet, levels: dict[str, FloatArray]) -> npt.NDArray[np.int16]:
    """Each contact's grade (its band's index in `rules.grades`; -1: none), from the
    level of the grades' dimension."""
    grades = rules.grades
    assert grades is not None
    value = levels[grades.dimension]
    bands = grades.bands
    code = np.full(len(value), len(bands) - 1 if bands[-1].min is None else -1, dtype=np.int16)
    for index in range(len(bands) - 1, -1, -1):
        minimum = bands[index].min
        if minimum is not None:
            code[value >= minimum] = index
    return code
