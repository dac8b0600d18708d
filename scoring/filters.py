"""Activity filters applied before scoring: clicks made by machines, not people.

Corporate mail gateways and security scanners follow every link of a message
as it arrives. Two signs give them away: a click within seconds of the
delivery of the same campaign to the same person, and a burst of clicks by
one person inside one second (more than a person can make).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.frames import ActivityFrame, BoolArray, CategoricalColumn
from scoring.records import TYPE_CODES, ActivityType
from scoring.rules import BotClicks


def machine_clicks(acts: ActivityFrame, usable: BoolArray, config: BotClicks) -> BoolArray:
    """Mask of the activities (of the filtered types) that a machine made."""
    flagged = np.zeros(len(acts), dtype=bool)
    codes = [TYPE_CODES[t] for t in config.types]
    # one type (the default): a comparison, not np.isin's sort of ten million codes
    single = len(codes) == 1
    of_types = acts.type_codes == codes[0] if single else np.isin(acts.type_codes, codes)
    clicks = np.flatnonzero(usable & of_types)
    if clicks.size == 0:
        return flagged
    flagged[clicks[_bursts(acts, clicks, config.max_per_second)]] = True
    if config.seconds_after_delivery > 0:
        is_send = usable & (acts.type_codes == TYPE_CODES[ActivityType.EMAIL_SENT])
        # only sends to people who clicked can explain a click
        clicked = np.zeros(int(acts.contact_rows.max()) + 1, dtype=bool)
        clicked[acts.contact_rows[clicks]] = True
        is_send &= clicked[acts.contact_rows]
        sends = np.flatnonzero(is_send)
        if sends.size:
            early = _right_after_delivery(acts, clicks, sends, config.seconds_after_delivery)
            flagged[clicks[early]] = True
    return flagged


def _bursts(acts: ActivityFrame, clicks: npt.NDArray[np.intp], limit: int) -> BoolArray:
    """Clicks belonging to more than `limit` clicks by one contact within one second."""
    who = acts.contact_rows[clicks]
    when = acts.occurred_at[clicks]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    in_burst = np.zeros(len(clicks), dtype=bool)
    if len(clicks) <= limit:
        return in_burst
    # clicks i .. i+limit fall inside one second: limit+1 clicks, one too many
    starts = np.flatnonzero((who[limit:] == who[:-limit]) & (when[limit:] - when[:-limit] < 1.0))
    if starts.size:
        cover = np.zeros(len(clicks) + 1, dtype=np.int32)
        np.add.at(cover, starts, 1)
        np.add.at(cover, starts + limit + 1, -1)
        in_burst[order] = np.cumsum(cover[:-1]) > 0
    return in_burst


def _right_after_delivery(
    acts: ActivityFrame, clicks: npt.NDArray[np.intp], sends: npt.NDArray[np.intp], seconds: float
) -> BoolArray:
    """Clicks less than `seconds` after the latest earlier send of the same campaign."""
    both = np.concatenate((sends, clicks))
    campaign, kinds = _campaign_codes(acts, both)
    key = acts.contact_rows[both].astype(np.int64) * (kinds + 1) + campaign + 1
    when = acts.occurred_at[both]
    is_click = np.concatenate((np.zeros(len(sends), bool), np.ones(len(clicks), bool)))
    # sort by (person and campaign, time), sends before clicks at the same time
    order = np.lexsort((is_click, when, key))
    key, when, is_click = key[order], when[order], is_click[order]
    position = np.arange(len(both))
    last_send = np.maximum.accumulate(np.where(is_click, -1, position))
    has_send = last_send >= 0
    same_key = np.zeros(len(both), dtype=bool)
    same_key[has_send] = key[last_send[has_send]] == key[has_send]
    delay = np.full(len(both), np.inf)
    delay[same_key] = when[same_key] - when[last_send[same_key]]
    early_sorted = is_click & same_key & (delay < seconds)
    early = np.zeros(len(both), dtype=bool)
    early[order] = early_sorted
    return early[len(sends) :]


def _campaign_codes(
    acts: ActivityFrame, rows: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.int64], int]:
    """The campaign code of each of `rows` (-1: none), and how many codes there are."""
    column = acts.column("campaign")
    if column is None:
        return np.full(len(rows), -1, dtype=np.int64), 0
    if isinstance(column, CategoricalColumn):
        return column.codes[rows].astype(np.int64), len(column.categories)
    distinct, inverse = np.unique(column.values, return_inverse=True)
    codes = np.where(np.isnan(column.values), -1, inverse).astype(np.int64)
    return codes[rows], len(distinct)
