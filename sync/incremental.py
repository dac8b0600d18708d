"""Score only who is due: persons with new or changed inputs, and those whose written
values time may have moved since their last scoring (`persons.due`, `sync.dues`).

    rules, field names or stage mappings changed (fingerprint), --full, or a clock
    behind the last run's                                                -> everyone
    otherwise -> persons with `due IS NULL OR due <= as_of`, and what was written to
                 their records only
    scored -> due_in per person (`scoring.due_in`)
    no write planned -> due saved at once; writes planned -> saved once all landed,
    else due now (the next run tries again)

Skipping the others is safe because a person's written values cannot change before
their due moment with no new data, and every new datum makes its person due now:
a run writes exactly what a run that rescored everyone would write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING

import numpy as np

from scoring import (
    AccountRollups,
    Included,
    RfmBounds,
    RuleSet,
    ScoreBatch,
    due_in,
    included,
    unparsed_numbers,
)
from scoring import score as score_frames
from sync.account_step import refresh
from sync.account_sync import refresh_companies
from sync.accounts import rollups_for
from sync.dues import (
    due_and_marks,
    fingerprint,
    fingerprint_key,
    mark_due,
    marks_of,
    person_count,
    save_dues,
    store_as_of,
    store_fingerprint,
    stored_fingerprint,
    went_back,
)
from sync.history import record_landed
from sync.landing import Landing
from sync.models import models_fingerprint, score_models
from sync.people import People
from sync.readback import activity_columns
from sync.rfm import bounds_for, moved_purchasers, purchasers, save_bounds
from sync.schema import chunks
from sync.schema import persons as person_rows
from sync.stages import reached_stages
from sync.summary import SyncOptions, SyncSummary
from sync.trigger import written_of
from sync.velocity import next_change, past_scores

if TYPE_CHECKING:
    from sync.capacity import HandoverQueue
    from sync.pipeline import Sync, Written
    from sync.writing import WritePlan


@dataclass
class Scored:
    """Who a run scored, how, and when each is due next."""

    batch: ScoreBatch
    people: People
    """Persons and their records; their activities are let go once scored."""
    written: Written
    due: np.ndarray
    """Epoch seconds per scored person (`inf`: never)."""
    everyone: bool
    fingerprint: str
    marks: Mapping[int, int]
    """Each person's count of marks before they were read (`sync.dues.due_and_marks`)."""
    as_of: float
    accounts: AccountRollups | None = None
    """The population's account roll-ups the run scored with (kept in the store unless a
    dry run), for the write-back onto company records."""
    account_records: Mapping[str, Mapping[str, str]] | None = None
    """Per system, its company records to write and their account keys."""
    models: Mapping[str, ScoreBatch] = field(default_factory=dict)
    """Per extra model, the people of the run it scores, scored (`sync.models`)."""

    @cached_property
    def person_ids(self) -> list[int]:
        return [int(c.id) for c in self.people.contacts]


def score_people(
    job: Sync,
    people: People,
    as_of: datetime,
    written: Written,
    notes: list[str] | None = None,
    *,
    rules: RuleSet | None = None,
    bounds: RfmBounds | None = None,
    accounts: AccountRollups | None = None,
    claim: bool = False,
    queues: list[HandoverQueue] | None = None,
) -> tuple[ScoreBatch, Included]:
    """These persons scored as of `as_of` under the run's rules (or `rules`: the shadow
    rules, `sync.shadow`), their stage floors read from `written`, their scores some
    days back (velocity) from the store's history, RFM by the population's quintile
    `bounds` and account fields by the population's roll-ups `accounts` (without: those
    the store keeps, `sync.rfm`, `sync.accounts`). The persons the rules exclude are not
    scored: the batch names them (`ScoreBatch.excluded_ids`), and `Included` says where
    those scored were among `people`. Sales capacity caps their stages (`sync.capacity`):
    `claim` hands over for good (never under shadow `rules`), else the decision is rolled
    back; `queues` receives the queue after it."""
    ruleset = job.rules if rules is None else rules
    if bounds is None:
        bounds = bounds_for(job.store, ruleset, as_of.timestamp())
    if accounts is None:
        accounts = rollups_for(job.store, ruleset, as_of.timestamp())
    batch, kept, floor = _scored(job, ruleset, people, as_of, written, notes, bounds, accounts)
    if ruleset.capacity is not None:  # shadow rules decide and roll back: they claim nothing
        from sync.capacity import WaitingScored, hand_over, handed_before, teams_of, to_rescore

        teams, held = teams_of(ruleset, kept.contacts), handed_before(ruleset, kept.contacts, floor)
        moment = as_of.timestamp()
        # the waiting persons a decision may hand over, scored as of the same moment
        asked = to_rescore(job.store, ruleset, moment, [int(i) for i in batch.contact_ids])
        rescored = None
        if asked:
            others = job.store.load_people(asked)
            before = written_of(job.store, asked)
            more, also, low = _scored(job, ruleset, others, as_of, before, None, bounds, accounts)
            rescored = WaitingScored(
                tuple(asked),
                more,
                teams_of(ruleset, also.contacts),
                handed_before(ruleset, also.contacts, low),
            )
        claims = claim and rules is None
        batch, queue = hand_over(
            job.store, batch, teams, held, moment, claim=claims, rescored=rescored
        )
        if queues is not None and queue is not None:
            queues.append(queue)
    return replace(batch, excluded_ids=kept.excluded_ids), kept


def _scored(
    job: Sync,
    ruleset: RuleSet,
    people: People,
    as_of: datetime,
    written: Written,
    notes: list[str] | None,
    bounds: RfmBounds | None,
    accounts: AccountRollups | None,
) -> tuple[ScoreBatch, Included, list[str | None] | None]:
    """These persons scored by the engine (no hand-over yet), those included, and the
    stage floor of each included one."""
    floor = reached_stages(
        ruleset,
        people.contacts,
        people.records,
        written,
        job.fields,
        people.record_attributes,
    )
    contact_fields, activity_fields = fields_read(ruleset)
    frame, activity_frame = people.frames(contact_fields, activity_fields, exclude=ruleset.exclude)
    kept = included(ruleset, frame, activity_frame)  # the excluded are not read further
    if notes is not None:
        notes.extend(unparsed_numbers(ruleset, kept.contacts, samples=0))  # no value in a log
    past = None
    if ruleset.velocity_windows():
        persons = [int(i) for i in kept.contacts.ids.tolist()]
        with job.store.engine.connect() as connection:
            past = past_scores(connection, ruleset, persons, as_of.timestamp())
    floor = None if floor is None else [floor[i] for i in kept.rows.tolist()]
    batch = score_frames(
        ruleset,
        kept.contacts,
        kept.activities,
        as_of,
        reached=floor,
        past=past,
        rfm=bounds,
        accounts=accounts,
    )
    if notes is not None:
        # a filter that stood down, purchases without a rate: each said once per run
        notes.extend(note for note in batch.notes if note not in notes)
    return batch, kept, floor


_FIELDS_READ: dict[int, tuple[RuleSet, tuple[str, ...], tuple[str, ...]]] = {}


def fields_read(ruleset: RuleSet) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The contact and activity fields the rules read, worked out once per rule set (kept
    with it, so that an id reused is told apart): a trigger scores one person at a time."""
    kept = _FIELDS_READ.get(id(ruleset))
    if kept is not None and kept[0] is ruleset:
        return kept[1], kept[2]
    found = (tuple(ruleset.contact_fields()), tuple(ruleset.activity_fields()))
    if len(_FIELDS_READ) >= 64:  # rule sets come and go (shadow rules, a changed file)
        _FIELDS_READ.clear()
    _FIELDS_READ[id(ruleset)] = (ruleset, *found)
    return found


def score_due(job: Sync, options: SyncOptions, summary: SyncSummary, as_of: datetime) -> Scored:
    """Load and score everyone (rules changed, or `--full`) or only who is due."""
    from sync.capacity import period_of  # here: a trigger's rescore needs neither module
    from sync.shadow import score_shadow, shadow_scored

    moment = as_of.timestamp()
    keep = not options.dry_run  # a dry run keeps neither the roll-ups nor RFM's bounds
    with job.store.engine.connect() as connection:
        # RFM's quintiles over everyone in the store: the purchasers whose digits they move
        found = purchasers(connection, job.rules, moment)
        bounds = None if found is None else found.bounds()
        rfm_moved = [] if found is None or bounds is None else (
            moved_purchasers(connection, job.rules, found, bounds, moment)
        )  # fmt: skip
    if bounds is not None and keep:  # what a rescore of one record reads until the next run
        with job.store.writing(), job.store.engine.begin() as connection:
            mark_due(connection, rfm_moved)  # kept with the bounds: a killed run loses none
            save_bounds(connection, job.rules, bounds, moment)
    if bounds is not None:  # the store's purchases, said once whoever is rescored
        summary.warnings.extend(n for n in bounds.notes if n not in summary.warnings)
    with job.store.engine.connect() as connection:
        declared = models_fingerprint(job.models)
        current = fingerprint(job.rules, job.fields, job.stage_maps, declared)
        back = went_back(connection, moment)
        key = fingerprint_key([c.system for c in job.connectors], job.elsewhere)
        everyone = options.full or back or stored_fingerprint(connection, key) != current
        summary.persons = person_count(connection)
        # the marks are read before the persons they keep a due for (`sync.dues`): every
        # person's where the roll-ups read everyone, a read that then serves the scoring
        due_now, marks = due_and_marks(connection, moment, every=everyone)
    # the accounts' roll-ups, over everyone or again for those that may have moved
    # (`sync.account_step`): the people of an account that moved are due (marked, unless
    # a dry run); fit from the CRMs' company records, read where stale
    companies = partial(refresh_companies, job, moment, options.full)
    accounts, moved, records, read = refresh(
        job.store, job.rules, moment, companies, keep=keep, everyone=everyone
    )
    if keep and moved:  # the marks the roll-ups made: not news a run must wait for
        marks = {p: count + 1 if p in moved else count for p, count in marks.items()}
        with job.store.engine.connect() as connection:  # the others', read after them
            for part in chunks(sorted(moved - set(marks))):
                marks.update(marks_of(connection, person_rows.c.id.in_(part)))
    if back:
        note = "this run's clock is behind the last run's: everyone is scored again"
        summary.warnings.append(note)
    if everyone:
        people = job.store.load_people() if read is None else read
        written: Written = job.written()
    else:  # who is due, and the people of the accounts and RFM digits that moved
        chosen = due_now | moved | set(rfm_moved)  # (marked due already, unless a dry run)
        marks = {p: marks[p] for p in (chosen if keep else due_now) if p in marks}
        if read is not None and moved <= due_now:  # read after every mark it is kept with
            people = read.some(chosen)
        elif keep:
            people = job.store.load_people(due_by=moment)
        else:
            people = job.store.load_people(chosen)
        written = written_of(job.store, [int(c.id) for c in people.contacts])
    del read
    summary.rescored = len(people.contacts)
    shadowed = None
    if options.shadow is not None:  # before the live hand-over: the same week's places
        shadowed = shadow_scored(job, options.shadow, people, as_of, written)
    queues: list[HandoverQueue] = []
    batch, kept = score_people(
        job, people, as_of, written, summary.warnings, bounds=bounds, accounts=accounts,
        claim=not options.dry_run, queues=queues,
    )  # fmt: skip
    summary.handover = queues[0] if queues else None
    frame = kept.activities
    # an excluded person's cleared fields never change by time: due when its data changes
    due = np.full(len(people.contacts), np.inf)
    due[kept.rows] = as_of.timestamp() + due_in(batch, frame, as_of)
    if batch.waiting:  # a lead waiting for the hand-over: due when the week turns
        waits = kept.rows[np.fromiter(batch.waiting, dtype=np.intp)]
        zone = None if job.rules.capacity is None else job.rules.capacity.timezone
        due[waits] = np.minimum(due[waits], period_of(as_of.timestamp(), zone)[1])
    if job.rules.velocity_windows():  # a history row entering a window moves velocity
        persons = [int(c.id) for c in people.contacts]
        with job.store.engine.connect() as connection:
            due = np.minimum(due, next_change(connection, job.rules, persons, as_of.timestamp()))
    if options.shadow is not None and shadowed is not None:  # nothing of it is kept
        summary.shadow = score_shadow(
            job, options.shadow, shadowed, batch, summary.handover,
            name=options.shadow_name, top=options.shadow_top, everyone=everyone,
        )  # fmt: skip
    models = score_models(job, people, as_of, written) if job.models else {}
    # the activities are let go once scored: what follows reads persons and records only
    del frame, kept
    people = replace(people, columns=activity_columns([]))
    return Scored(
        batch, people, written, due, everyone, current, marks, as_of.timestamp(), accounts,
        records, models,
    )  # fmt: skip


def _planned_persons(scored: Scored, plan: WritePlan) -> dict[int, list[tuple[str, str]]]:
    """Per scored person, the records a write is planned for."""
    out: dict[int, list[tuple[str, str]]] = {}
    for person, records in scored.people.records.items():
        planned = [
            (s, r)
            for s, r in records
            if r in plan.writes.get(s, {}) or r in plan.pending.get(s, ())
        ]
        if planned:
            out[int(person)] = planned
    return out


def save_unplanned(
    job: Sync,
    scored: Scored,
    plan: WritePlan,
    planned: Mapping[int, Sequence[tuple[str, str]]] | None = None,
) -> None:
    """The due moment of every scored person with nothing to write (safe before writes:
    a run killed now has nothing of theirs to write again); `planned`: the persons with
    a write planned, when known (`_planned_persons`)."""
    planned = _planned_persons(scored, plan) if planned is None else planned
    ids, due = scored.person_ids, scored.due.tolist()
    keep = [i for i, p in enumerate(ids) if p not in planned]
    _save(job, scored, [ids[i] for i in keep], [due[i] for i in keep])
    # Due now until their writes land (a run killed while writing leaves them so); not a
    # mark: their inputs did not change, and `Landing` or `save_written` sets their due.
    _save(job, scored, list(planned), [0.0] * len(planned))


def landing_for(job: Sync, scored: Scored, plan: WritePlan, options: SyncOptions) -> Landing | None:
    """Before the writes: the unplanned persons' due moments saved (`save_unplanned`), and
    the `Landing` that saves each planned person as their writes land (none in a dry run;
    a trial run, which writes only what it sampled, saves their history only)."""
    if options.dry_run:
        return None
    planned = _planned_persons(scored, plan)
    keeps_due = options.limit is None
    if keeps_due:
        save_unplanned(job, scored, plan, planned)
    return Landing(job, scored, planned, dues=keeps_due)


def save_written(
    job: Sync,
    scored: Scored,
    plan: WritePlan,
    landed: Mapping[str, Collection[str]],
    *,
    dues: bool = True,
    landing: Landing | None = None,
) -> None:
    """The due moment of the persons whose planned writes all landed; the others are due
    now. Once everyone was scored, the fingerprint of what they were scored with. The
    history of each person a write landed for, `dues` or not (a trial run moves no due).
    The persons `landing` saved as their writes landed are done already."""
    saved = set() if landing is None else landing.saved
    every = _planned_persons(scored, plan) if landing is None else landing.planned
    planned = {p: records for p, records in every.items() if p not in saved}
    row = {p: i for i, p in enumerate(scored.person_ids)}
    scored_rows = {int(p): i for i, p in enumerate(scored.batch.contact_ids.tolist())}
    sets = {system: set(records) for system, records in landed.items()}  # not a list scan each
    done = [p for p, recs in planned.items() if all(r in sets.get(s, ()) for s, r in recs)]
    if dues:
        _save(job, scored, done, [float(scored.due[row[p]]) for p in done])
    at = datetime.fromtimestamp(scored.as_of, UTC)
    with job.store.writing(), job.store.engine.begin() as connection:
        # each person a write landed for: a history row when their values moved
        record_landed(connection, scored.batch, scored_rows, planned, landed, at, job.rules_text)
        if not dues:
            return
        mark_due(connection, set(planned) - set(done))
        if scored.everyone:
            key = fingerprint_key([c.system for c in job.connectors], job.elsewhere)
            store_fingerprint(connection, scored.fingerprint, key)
        store_as_of(connection, scored.as_of)


def _save(job: Sync, scored: Scored, persons: Sequence[int], due: Sequence[float]) -> None:
    if not persons:
        return
    with job.store.writing(), job.store.engine.begin() as connection:
        save_dues(connection, persons, due, scored.marks)
