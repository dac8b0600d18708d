"""Score velocity read from the store: each person's score in force some days back.

The engine computes velocity (`scoring.velocity`) from the score each contact had `days`
before the scoring moment; this module looks that score up in the history the store keeps
(`sync.history`): the person's last row made at or before that moment. A person with no
row then, or disqualified then (`DISQUALIFIED_SCORE` is no amount of points), has no
velocity over that window. A sync and a rescore on request read it the same way, so a
person scored alone gets what a run scoring everyone gives them.

Velocity moves with time alone when a row crosses the edge of a window: `next_change`
gives, per person, the first moment one does, which bounds their due moment.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Connection

from scoring import PastScores, RuleSet
from sync.bulk import execute_in
from sync.fields import DISQUALIFIED_SCORE
from sync.schema import chunks

DAY_SECONDS = 86_400.0
"""Seconds in a day: velocity windows are whole or fractional days."""
_THEN = (
    "SELECT person_id, score FROM history WHERE id IN"
    " (SELECT max(id) FROM history WHERE at <= ? AND person_id IN"
)
_NEXT = "SELECT person_id, min(at) FROM history WHERE at > ? AND person_id IN"


def past_scores(
    connection: Connection, rules: RuleSet, persons: Sequence[int], moment: float
) -> PastScores | None:
    """Per window the rules read velocity over, each person's score in force that many days
    before `moment` (epoch seconds), in the order of `persons` (NaN: none, or disqualified
    then); None when the rules read no velocity."""
    windows = rules.velocity_windows()
    if not windows:
        return None
    row = {p: i for i, p in enumerate(persons)}
    out: dict[float, npt.NDArray[np.float64]] = {}
    for days in windows:
        then = np.full(len(persons), np.nan)
        for part in chunks(sorted(row)):
            found = execute_in(
                connection, _THEN, part, moment - days * DAY_SECONDS, tail=" GROUP BY person_id)"
            )
            for person, score in found:
                if score != DISQUALIFIED_SCORE:
                    then[row[int(person)]] = float(score)
        out[days] = then
    return out


def next_change(
    connection: Connection, rules: RuleSet, persons: Sequence[int], moment: float
) -> npt.NDArray[np.float64]:
    """Per person (in the order given), the first moment after `moment` at which a history
    row enters one of the rules' velocity windows, moving its velocity with no new data
    (`inf`: no velocity read). The row a run scoring as of `moment` may add enters at
    `moment` plus the shortest window, which bounds every person's."""
    row = {p: i for i, p in enumerate(persons)}
    windows = rules.velocity_windows()
    out = np.full(len(persons), moment + windows[0] * DAY_SECONDS if windows else np.inf)
    for days in windows:
        for part in chunks(sorted(row)):
            found = execute_in(
                connection, _NEXT, part, moment - days * DAY_SECONDS, tail=" GROUP BY person_id"
            )
            for person, at in found:
                index = row[int(person)]
                out[index] = min(out[index], float(at) + days * DAY_SECONDS)
    return out
