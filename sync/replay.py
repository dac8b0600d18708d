"""One person replayed from the store on a past date: under the rules in force then (the
version their last recorded score before that moment was made under, whose text the store
keeps) or under another rule file.

What is replayed is what the store holds now: the activities dated up to that moment, and
the person's attributes as last pulled (the store keeps no earlier attributes, so a field a
CRM changed since moves the replay away from what was written then). The stage floor is the
stage of that last recorded score, as the sync then read it from what it had written; a
stage the CRM holds today is not read.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from scoring import RuleFileError, RuleSet, ScoreBatch, parse_rules, score_included
from sync.accounts import rollups_for
from sync.capacity import decision_then, handed_before
from sync.errors import NotInStore
from sync.history import SHORT, HistoryEntry, history_of, rules_text
from sync.people import People
from sync.rfm import population
from sync.rulefile import rule_version
from sync.store import StateStore
from sync.velocity import past_scores


@dataclass(frozen=True)
class Replayed:
    """A person scored as of a past moment, with the rule version used and what the store
    recorded of them by then."""

    batch: ScoreBatch
    people: People
    person: int
    at: datetime
    version: str
    """The rule version used (`sync.rulefile.rule_version`)."""
    source: str
    """Where the rules came from: a file's name, or `in force then`."""
    recorded: HistoryEntry | None
    """The person's last recorded score at or before `at`, if any."""
    handover: str | None = None
    """With sales capacity, the hand-over as it stood then (`sync.capacity.decision_then`)."""


def rules_then(store: StateStore, person: int, at: datetime) -> tuple[RuleSet, str, HistoryEntry]:
    """The rule set a person's last score recorded by `at` was made under, its version and
    that entry; `NotInStore` when there is none, or the store lacks the text."""
    with store.engine.connect() as connection:
        entries = history_of(connection, person, until=at)
        if not entries:
            raise NotInStore(
                f"no score of this person was recorded by {at.isoformat()}; "
                "pass --rules FILE to replay under a rule file"
            )
        recorded = entries[-1]
        text = rules_text(connection, recorded.rules)
    if text is None:
        raise NotInStore(f"the store does not hold rule version {recorded.rules[:SHORT]}")
    try:
        return parse_rules(text, f"rule version {recorded.rules[:SHORT]}"), recorded.rules, recorded
    except RuleFileError as exc:  # a version this leadscore no longer reads
        raise NotInStore(f"{exc.problems[0]}; pass --rules FILE to replay under a file") from None


def replay(
    store: StateStore,
    who: str,
    at: datetime,
    rules: tuple[RuleSet, str, str] | None = None,
) -> Replayed:
    """`who` (an address or a record id) scored as of `at` from the store, under `rules`
    ((rule set, its file's text, the file's name)) or, without, under the rules then in
    force; `NotInStore` for a person the store does not know."""
    person = store.person_of(who)
    if person is None:
        raise NotInStore(f"{who!r} is not in the state store; run `leadscore sync` first")
    recorded: HistoryEntry | None
    if rules is None:
        ruleset, version, recorded = rules_then(store, person, at)
        source = "in force then"
    else:
        ruleset, text, source = rules
        version = rule_version(text)
        with store.engine.connect() as connection:
            before = history_of(connection, person, until=at)
        recorded = before[-1] if before else None
    people = store.load_people([person])
    # each record's own values for `exclude` (an objection in any system), read first
    frame, activities = people.frames(
        ruleset.contact_fields(), ruleset.activity_fields(), exclude=ruleset.exclude
    )
    # the stage floor is what had been written by then, not what the CRM holds today
    people = replace(people, record_attributes={})
    floor = None if recorded is None else recorded.stage
    ladder = ruleset.stages
    if ladder is None or floor not in {stage.name for stage in ladder.ladder}:
        floor = None
    with store.engine.connect() as connection:  # velocity and RFM's quintiles as they stood
        past = past_scores(connection, ruleset, [person], at.timestamp())
        bounds = population(connection, ruleset, at.timestamp())
    reached = [floor] * len(people.contacts)
    batch, _ = score_included(
        ruleset,
        frame,
        activities,
        at,
        reached=reached,
        past=past,
        rfm=bounds,
        accounts=rollups_for(store, ruleset, at.timestamp()),
    )
    if not len(batch):
        raise NotInStore(f"{who!r} is excluded from scoring by the rules (`exclude`)")
    # sales capacity as it stood then: who had been handed over by that moment
    held = handed_before(ruleset, frame, reached)
    batch, lines = decision_then(store, batch, held, at.timestamp())
    return Replayed(batch, people, person, at, version, source, recorded, lines.get(0))
