"""Known outcomes from the state store, for `leadscore backtest --from-store` and
`leadscore calibrate --from-store`.

Everyone the store knows is scored as of one score date (`--as-of`, default the outcome
window before now), and the outcome is what the store recorded in the window after it,
`(as of, as of + --within-days]`:

- `won`: a purchase (a won deal, an opportunity won, an order) in the window.
- `customer`: a first purchase in the window; a person who had bought by the score date
  was a customer already, not a lead, and is left out.
- `stage:NAME`: a score recorded in the history (`sync.history`) at stage NAME or above
  on the rules' ladder in the window; a person recorded there by the score date is left
  out. The stage written is forward-only and takes in a stage the CRM held (the ladder's
  `current_field`, a stage written before), so a stage a rep set counts. The CRMs' own
  lifecycle values are not used: the store keeps them as last pulled, with no date, so
  whether they were reached within the window cannot be told.

A person whose first stored activity is after the score date was not a lead yet, as far
as the store can tell, and is left out; one with no activity at all is kept. The scoring
sees the activities up to the score date only (the engine's `as_of`), no stage floor and
no past scores. The attributes are as last pulled, since the store keeps no earlier ones:
the CRMs' lifecycle fields (and the rule attributes their default mappings make of them)
are left out, for they record the outcome after the fact (calibrating with them fitted
`lifecycle_stage: customer` and little else); a column of the portal's own that the
outcome fills is for the backtest's leakage check to name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from scoring import (
    TYPE_CODES,
    ActivityFrame,
    ActivityType,
    ContactFrame,
    RuleSet,
    take_activities,
    take_contacts,
)
from sync.people import rows_of
from sync.schema import history
from sync.store import StateStore

OUTCOMES = ("won", "customer", "stage:NAME")
"""The outcomes the store can tell, as `--outcome` names them."""
STAGE = "stage:"


@dataclass(frozen=True)
class StoreOutcome:
    """An outcome the store can tell: `won`, `customer`, or a stage reached."""

    kind: str
    stage: str | None = None
    """The stage's name, as the ladder spells it (`kind` "stage")."""
    rank: int = 0
    """The stage's place on the ladder, lowest 0."""

    @property
    def name(self) -> str:
        return f"{STAGE}{self.stage}" if self.stage is not None else self.kind


def store_outcome(text: str, rules: RuleSet) -> StoreOutcome:
    """The outcome `--outcome` names; ValueError with a line saying what is accepted."""
    given = text.strip()
    if given.casefold() in ("won", "customer"):
        return StoreOutcome(given.casefold())
    if given.casefold().startswith(STAGE):
        wanted = given[len(STAGE) :].strip()
        ladder = [] if rules.stages is None else [s.name for s in rules.stages.ladder]
        for rank, name in enumerate(ladder):
            if name.casefold() == wanted.casefold():
                return StoreOutcome("stage", name, rank)
        known = ", ".join(repr(name) for name in ladder) or "none: the rules have no stages"
        raise ValueError(f"--outcome {text!r}: no such stage in the rules (stages: {known})")
    raise ValueError(f"--outcome {text!r}: with --from-store, give one of {', '.join(OUTCOMES)}")


def outcome_within(
    rows: npt.NDArray[np.integer],
    moments: npt.NDArray[np.floating],
    contacts: int,
    start: float,
    end: float,
    *,
    leave_earlier: bool,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """From events (the contact row and moment of each time the outcome happened): who
    converted, an event in `(start, end]`, and who is kept, everyone, or with
    `leave_earlier` only those without an event at or before `start`."""
    rows = np.asarray(rows, dtype=np.int64)
    moments = np.asarray(moments, dtype=np.float64)
    converted = np.zeros(contacts, dtype=np.bool_)
    converted[rows[(moments > start) & (moments <= end)]] = True
    kept = np.ones(contacts, dtype=np.bool_)
    if leave_earlier:
        kept[rows[moments <= start]] = False
    return converted & kept, kept


def not_yet_leads(activities: ActivityFrame, contacts: int, start: float) -> npt.NDArray[np.bool_]:
    """The contacts whose first activity is after `start` (not those without any)."""
    first = np.full(contacts, np.inf)
    np.minimum.at(first, activities.contact_rows, activities.occurred_at)
    later: npt.NDArray[np.bool_] = np.isfinite(first) & (first > start)
    return later


@dataclass(frozen=True)
class StoreOutcomes:
    """The store's persons kept for a backtest, scored as of `at`, and what became of them."""

    contacts: ContactFrame
    """Every attribute column the store holds (ids are person ids)."""
    activities: ActivityFrame
    converted: npt.NDArray[np.bool_]
    at: datetime
    end: datetime
    outcome: StoreOutcome
    not_yet: int
    """Persons left out: their first activity is after the score date."""
    before: int
    """Persons left out: the outcome happened by the score date (`customer`, `stage:`)."""
    unread: tuple[str, ...]
    """Contact columns left out: the CRMs' lifecycle fields, undated."""


def lifecycle_columns() -> frozenset[str]:
    """The registered systems' lifecycle fields and the rule attributes their default
    mappings make of them, casefolded."""
    from connectors.registry import SYSTEMS

    names: set[str] = set()
    for entry in SYSTEMS:
        lifecycle = entry.capabilities.lifecycle_field
        if lifecycle is None:
            continue
        names.add(lifecycle.casefold())
        names.update(
            attribute.casefold()
            for source, attribute in entry.attributes.fields.items()
            if source.casefold() == lifecycle.casefold()
        )
    return frozenset(names)


def stage_events(
    store: StateStore, ids: npt.NDArray[np.int64], rules: RuleSet, rank: int
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """The contact row and moment of each recorded score at stage `rank` or above."""
    ladder = [] if rules.stages is None else [stage.name for stage in rules.stages.ladder]
    # the history holds the stage as written: the ladder's names, spelled as it spells them
    query = sa.select(history.c.person_id, history.c.at).where(history.c.stage.in_(ladder[rank:]))
    with store.engine.connect() as connection:
        found = [(int(person), float(at)) for person, at in connection.execute(query)]
    persons = np.array([p for p, _ in found], dtype=np.int64)
    moments = np.array([t for _, t in found], dtype=np.float64)
    rows = rows_of(ids, persons)
    known = rows >= 0
    return rows[known], moments[known]


def read_store_outcomes(
    store: StateStore, rules: RuleSet, outcome: StoreOutcome, at: datetime, days: int
) -> StoreOutcomes:
    """Everyone in the store, as of `at`, with the outcome in the `days` after it."""
    people = store.load_people()
    contacts, activities = people.frames(None, rules.activity_fields(), exclude=rules.exclude)
    lifecycle = lifecycle_columns()
    unread = tuple(sorted(name for name in contacts.columns if name.casefold() in lifecycle))
    contacts = replace(
        contacts, columns={k: v for k, v in contacts.columns.items() if k not in unread}
    )
    n = len(contacts)
    start = at.timestamp()
    end = at + timedelta(days=days)
    if outcome.kind == "stage":
        ids = np.array([int(c.id) for c in people.contacts], dtype=np.int64)
        rows, moments = stage_events(store, ids, rules, outcome.rank)
    else:
        bought = activities.type_codes == TYPE_CODES[ActivityType.PURCHASE]
        rows, moments = activities.contact_rows[bought], activities.occurred_at[bought]
    converted, kept = outcome_within(
        rows, moments, n, start, end.timestamp(), leave_earlier=outcome.kind != "won"
    )
    later = not_yet_leads(activities, n, start)
    keep = np.flatnonzero(kept & ~later)
    return StoreOutcomes(
        take_contacts(contacts, keep),
        take_activities(activities, keep, n),
        converted[keep],
        at,
        end,
        outcome,
        int(later.sum()),
        int((~kept & ~later).sum()),
        unread,
    )
