"""Activity filters applied before scoring: clicks made by machines, not people.

Corporate mail gateways and security scanners follow every link of a message
as it arrives. Two signs give them away: a click within seconds of the
delivery of the same campaign to the same person, and a burst of clicks by
one person inside one second (more than a person can make).

Both signs need what some data lacks, and the filter stands down rather than eat
real clicks (`click_checks`): where every send and filtered click of the frame is
dated at midnight UTC (an export of dates without a time of day), a person's
clicks of one day would all look like a burst and like clicks at delivery, so
neither check runs; a click with no campaign is never tied to a send (any send
of that day would do), and without any campaign the delivery check is off. Each
is said once per batch (`ScoreBatch.notes`). The decision is the frame's, not the
moment's: a contact is filtered the same whatever else is scored with it and
whatever moment it is scored as of.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from scoring.frames import ActivityFrame, BoolArray, CategoricalColumn, FloatArray
from scoring.records import TYPE_CODES, ActivityType
from scoring.ruletypes import BotClicks

_DAY = 86_400.0
DATES_ONLY = (
    "activity times are dates without a time of day: the machine-click filter stands "
    "down (a person's clicks of one day would look like a scanner's)"
)
NO_CAMPAIGN = (
    "activities carry no campaign: the machine-click filter does not look for clicks "
    "right after delivery (it cannot tell which send a click follows)"
)


@dataclass(frozen=True)
class ClickChecks:
    """Which of the filter's checks the data lets run, and what to say of those it does not."""

    bursts: bool
    delivery: bool
    notes: tuple[str, ...] = ()


def click_checks(acts: ActivityFrame, config: BotClicks) -> ClickChecks:
    """The checks the frame's times and campaigns allow (see the module's docstring)."""
    codes = [TYPE_CODES[t] for t in config.types]
    of_types = _of_types(acts, codes)
    if not of_types.any():
        return ClickChecks(True, config.seconds_after_delivery > 0)
    if _dates_only(acts, of_types):
        return ClickChecks(False, False, (DATES_ONLY,))
    if config.seconds_after_delivery <= 0:
        return ClickChecks(True, False)
    campaign, _ = _campaign_codes(acts, np.flatnonzero(of_types))
    unknown = int(np.count_nonzero(campaign < 0))
    if unknown == len(campaign):
        return ClickChecks(True, False, (NO_CAMPAIGN,))
    if unknown:
        note = (
            f"{unknown} of {len(campaign)} filtered activities carry no campaign: the "
            "machine-click filter does not tie them to a send"
        )
        return ClickChecks(True, True, (note,))
    return ClickChecks(True, True)


_CHUNK = 1 << 16


def _dates_only(acts: ActivityFrame, of_types: BoolArray) -> bool:
    """Whether every send and filtered activity is dated at midnight UTC, and there are
    two or more (one click alone can be neither a burst nor right after a send: nothing
    to stand down); read a block of rows at a time, up to the first with a time of day."""
    seen = 0
    sent = TYPE_CODES[ActivityType.EMAIL_SENT]
    for start in range(0, len(acts), _CHUNK):
        part = slice(start, start + _CHUNK)
        relevant = of_types[part] | (acts.type_codes[part] == sent)
        times = acts.occurred_at[part][relevant]
        if np.any(np.remainder(times, _DAY)):
            return False
        seen += len(times)
    return seen > 1


def _of_types(acts: ActivityFrame, codes: list[int]) -> BoolArray:
    # one type (the default): a comparison, not np.isin's sort of ten million codes
    single = len(codes) == 1
    found: BoolArray = acts.type_codes == codes[0] if single else np.isin(acts.type_codes, codes)
    return found


_USABLE: weakref.WeakKeyDictionary[
    ActivityFrame, dict[tuple[float, str], tuple[ClickChecks | None, BoolArray]]
] = weakref.WeakKeyDictionary()
"""Per activities frame, moment and filter settings: the checks and the activities that
count. A population's account roll-ups and the scores of the same population (two engine
runs over one frame, as a sync makes them) filter it once."""


@dataclass(frozen=True)
class ActivityGroup:
    """The usable activities of some types, as the engine reads them (read-only arrays)."""

    rows: npt.NDArray[np.intp]
    who: npt.NDArray[np.int32]
    ages: FloatArray
    """Seconds from each activity to its contact's `as_of`."""


@dataclass(eq=False)
class Grouping:
    """The usable activities of a frame by type as the engine reads them, for one moment and
    filter: the groups read so far, and each activity's type code (-1: it does not count)
    they are found in."""

    groups: dict[frozenset[ActivityType], ActivityGroup] = field(default_factory=dict)
    types: npt.NDArray[np.int8] | None = None
    counted: dict[str, object] = field(default_factory=dict)
    """Per-contact counts worked out over these groups, by what they count (the accounts'
    engagement: `scoring.accounts.own_counts`), for the next run over the same frame."""


_GROUPS: weakref.WeakKeyDictionary[ActivityFrame, dict[tuple[float, str], Grouping]] = (
    weakref.WeakKeyDictionary()
)


def shared_groups(acts: ActivityFrame, as_of: float, config: BotClicks) -> Grouping:
    """Where the engine keeps the usable activities of a frame by type, for one moment and
    filter, as `usable_activities` keeps what counts: a population's account roll-ups and
    the scores of the same frame (as a sync and `leadscore score` make them) group once."""
    return _GROUPS.setdefault(acts, {}).setdefault((as_of, config.model_dump_json()), Grouping())


def usable_activities(
    acts: ActivityFrame, as_of: float | FloatArray, config: BotClicks
) -> tuple[ClickChecks | None, BoolArray]:
    """The checks the filter makes (None: turned off) and the activities that count: not
    after their contact's moment, not a machine's; kept per frame for one moment, and
    never to be changed in place."""
    key = (as_of, config.model_dump_json()) if isinstance(as_of, float) else None
    known = _USABLE.setdefault(acts, {}) if key is not None else {}
    found = known.get(key) if key is not None else None
    if found is None:
        moments = as_of if isinstance(as_of, float) else as_of[acts.contact_rows]
        usable = acts.occurred_at <= moments
        checks = click_checks(acts, config) if config.enabled and len(acts) else None
        if checks is not None:
            usable &= ~machine_clicks(acts, usable, config, checks)
        found = (checks, usable)
        if key is not None:
            known[key] = found
    return found


def machine_clicks(
    acts: ActivityFrame, usable: BoolArray, config: BotClicks, checks: ClickChecks | None = None
) -> BoolArray:
    """Mask of the usable activities (of the filtered types) that a machine made, by the
    checks `click_checks` allows (worked out here when not given)."""
    clicks, moments = _flagged(acts, usable, config, checks)
    machine = np.zeros(len(acts), dtype=bool)
    machine[clicks[np.isfinite(moments)]] = True
    return machine


def machine_from(
    acts: ActivityFrame, usable: BoolArray, config: BotClicks, checks: ClickChecks | None = None
) -> FloatArray:
    """Per activity, the moment from which the filter holds it a machine's, among the
    `usable` ones (inf: never): a click of a burst from the moment the burst is complete
    (its last click), a click right after delivery from its own moment. As of a moment
    `t`, the clicks the engine filters out of those up to `t` are those whose moment here
    is at most `t` (`usable` all true): a burst is seen once its last click is, and a
    send always comes before the click it explains."""
    clicks, moments = _flagged(acts, usable, config, checks)
    flagged = np.full(len(acts), np.inf)
    flagged[clicks] = moments
    return flagged


def _flagged(
    acts: ActivityFrame, usable: BoolArray, config: BotClicks, checks: ClickChecks | None
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The usable activities of the filtered types, and for each the moment from which
    the filter holds it a machine's (inf: never), as `machine_from` gives them."""
    checks = checks or click_checks(acts, config)
    codes = [TYPE_CODES[t] for t in config.types]
    clicks = np.flatnonzero(usable & _of_types(acts, codes))
    if clicks.size == 0 or not checks.bursts:
        return clicks, np.full(len(clicks), np.inf)
    moments = _bursts(acts, clicks, config.max_per_second)
    if checks.delivery:
        tied = np.flatnonzero(_campaign_codes(acts, clicks)[0] >= 0)  # no campaign: no send
        is_send = usable & (acts.type_codes == TYPE_CODES[ActivityType.EMAIL_SENT])
        # only sends to people who clicked can explain a click
        clicked = np.zeros(int(acts.contact_rows.max()) + 1, dtype=bool)
        clicked[acts.contact_rows[clicks[tied]]] = True
        is_send &= clicked[acts.contact_rows]
        sends = np.flatnonzero(is_send)
        if sends.size and tied.size:
            seconds = config.seconds_after_delivery
            early = tied[_right_after_delivery(acts, clicks[tied], sends, seconds)]
            moments[early] = acts.occurred_at[clicks[early]]
    return clicks, moments


def _bursts(acts: ActivityFrame, clicks: npt.NDArray[np.intp], limit: int) -> FloatArray:
    """Per click, the moment of the last click of the first burst holding it (more than
    `limit` clicks by one contact within one second; inf: none)."""
    who = acts.contact_rows[clicks]
    when = acts.occurred_at[clicks]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    out = np.full(len(clicks), np.inf)
    if len(clicks) <= limit:
        return out
    # clicks i .. i+limit fall inside one second: limit+1 clicks, one too many
    starts = np.flatnonzero((who[limit:] == who[:-limit]) & (when[limit:] - when[:-limit] < 1.0))
    if starts.size:
        # the first burst covering a click starts at the first start at or after it - limit
        # (a burst starting later ends no earlier: one contact's clicks are in time order)
        size = len(clicks)
        first = np.full(size + 1, size, dtype=np.int64)
        first[starts] = starts
        first = np.minimum.accumulate(first[::-1])[::-1]
        position = np.arange(size)
        start = first[np.maximum(position - limit, 0)]
        covered = start <= position
        ends = np.full(size, np.inf)
        ends[covered] = when[start[covered] + limit]
        out[order] = ends
    return out


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
