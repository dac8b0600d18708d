"""The rule set's `exclude` on columns: which contacts of a frame must not be scored, and
the others scored without them.

An excluded contact is taken out of the frames before the engine sees them, so nothing
of it is computed, and a contact's score never depends on who else is in the batch:
the scores of the others are those a batch without the excluded contacts gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from scoring.accounts import Rollups
from scoring.conditions import Conditions
from scoring.engine import score
from scoring.evaluate import evaluate
from scoring.explain import ScoreBatch
from scoring.frames import (
    DERIVED_CONTACT_FIELDS,
    ActivityFrame,
    BoolArray,
    Column,
    ContactFrame,
    FloatArray,
)
from scoring.rfm import Bounds
from scoring.rules import RuleSet
from scoring.subsets import take_activities, take_column, take_contacts
from scoring.velocity import PastScores


def excluded(rules: RuleSet, contacts: ContactFrame) -> BoolArray:
    """Per contact row, whether the rules' `exclude` names it (all false without one).

    A condition holds for a contact when it holds on its merged values (a file's row, or
    the store's person with the first system's value standing), or on the values of any
    of its records (`ContactFrame.records`: each record's own, the merged ones where it
    holds none): an objection recorded in any system that knows the person excludes them,
    while a system without the field says nothing the merged values do not."""
    exclusion = rules.exclude
    if exclusion is None:
        return np.zeros(len(contacts), dtype=bool)
    mask = holding(exclusion.conditions, contacts)
    if exclusion.emails:
        listed = frozenset(exclusion.emails)
        emails = contacts.emails  # trimmed, lower case; code -1: no address
        size = len(emails.categories)
        table = np.fromiter((str(v) in listed for v in emails.categories), bool, size)
        mask |= np.append(table, False)[emails.codes]
    return mask


def holding(conditions: Sequence[Conditions], contacts: ContactFrame) -> BoolArray:
    """Per contact row, whether any of `conditions` holds on its merged values or on the
    values of any of its records (`ContactFrame.records`, where given): how an exclusion
    and an extra model's `when` (`sync.models`) are read."""
    mask = np.zeros(len(contacts), dtype=bool)
    for each in conditions:
        mask |= evaluate(each, contacts.column, len(contacts))
        if contacts.records is not None and len(contacts.records):
            mask[contacts.records.owners[held_by_records(each, contacts)]] = True
    return mask


def held_by_records(conditions: Conditions, contacts: ContactFrame) -> BoolArray:
    """Per record of `contacts.records`, whether the conditions hold on its values (the
    address's fields are its contact's)."""
    records = contacts.records
    assert records is not None

    def column(name: str) -> Column | None:
        if name in DERIVED_CONTACT_FIELDS:
            found = contacts.column(name)
            return None if found is None else take_column(found, records.owners)
        return records.columns.get(name)

    return evaluate(conditions, column, len(records))


@dataclass(frozen=True)
class Included:
    """The contacts of a frame the rules score, and where they were."""

    contacts: ContactFrame
    activities: ActivityFrame
    rows: npt.NDArray[np.intp]
    """Their rows in the frame given, ascending."""
    excluded_ids: tuple[str, ...]
    """The ids of the contacts left out, in the frame's order."""


def included(rules: RuleSet, contacts: ContactFrame, activities: ActivityFrame) -> Included:
    """The frames without the contacts the rules exclude (the same frames when none is)."""
    mask = excluded(rules, contacts)
    if not mask.any():
        rows = np.arange(len(contacts), dtype=np.intp)
        return Included(contacts, activities, rows, ())
    rows = np.flatnonzero(~mask)
    kept = take_contacts(contacts, rows)
    kept_activities = take_activities(activities, rows, len(contacts))
    gone = tuple(str(i) for i in contacts.ids[mask].tolist())
    return Included(kept, kept_activities, rows, gone)


def score_included(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    as_of: datetime | FloatArray,
    *,
    reached: Sequence[str | None] | None = None,
    past: PastScores | None = None,
    rfm: Bounds | None = None,
    accounts: Rollups | None = None,
) -> tuple[ScoreBatch, Included]:
    """`scoring.score` of the contacts the rules do not exclude; the batch names those
    it left out (`ScoreBatch.excluded_ids`). `as_of` (one per row), `reached` and `past`
    are given for every contact of the frame and taken for those scored; `rfm`, the
    population's RFM bounds, and `accounts`, its account roll-ups, as `scoring.score` takes
    them."""
    kept = included(rules, contacts, activities)
    if not kept.excluded_ids:
        found = score(
            rules,
            contacts,
            activities,
            as_of,
            reached=reached,
            past=past,
            rfm=rfm,
            accounts=accounts,
        )
        return found, kept
    rows = kept.rows
    moment = as_of if isinstance(as_of, datetime) else np.asarray(as_of)[rows]
    floor = None if reached is None else [reached[i] for i in rows.tolist()]
    before = None if past is None else {days: values[rows] for days, values in past.items()}
    batch = score(
        rules,
        kept.contacts,
        kept.activities,
        moment,
        reached=floor,
        past=before,
        rfm=rfm,
        accounts=accounts,
    )
    return replace(batch, excluded_ids=kept.excluded_ids), kept
