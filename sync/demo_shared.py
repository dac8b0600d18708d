"""The demo's proof of one score per person: the values each emulator holds, compared.

The sync writes one score per person to every record of theirs in every system.
This reads back what actually landed, from the emulators themselves rather than
from the state store, and counts the people held by more than one system whose
records all carry the same score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from sandbox import VENDORS, Sandbox
from scoring import ScoreBatch, account_keys, normalize_email
from sync.accounts import KEY_FIELD, rollups_for
from sync.ranking import Engaged
from sync.schema import activities

if TYPE_CHECKING:
    from sync.app import Leadscore


@dataclass(frozen=True)
class Shared:
    """Who is in which system, and the scores each system holds of them."""

    systems: tuple[str, ...]
    records: dict[str, int]
    """System -> the records of it the store holds."""
    holders_of: dict[int, tuple[str, ...]]
    """Person -> the systems holding a record of them."""
    scores: dict[int, dict[str, list[str | None]]] = field(default_factory=dict)
    """Person held by more than one system -> system -> the score each record holds."""

    @property
    def both(self) -> list[int]:
        """The people held by more than one system."""
        return sorted(self.scores)

    @property
    def agreeing(self) -> list[int]:
        """The people in more than one system whose records all hold one and the same score."""
        return [
            person
            for person, by_system in sorted(self.scores.items())
            if len({v for values in by_system.values() for v in values}) == 1
            and None not in {v for values in by_system.values() for v in values}
        ]

    def line(self) -> str:
        """Per system its records; then the people the systems share, and their scores."""
        held = ", ".join(f"{VENDORS[s]} {self.records.get(s, 0):,}" for s in self.systems)
        people = f"people: {len(self.holders_of):,} in all; records: {held}"
        if len(self.systems) < 2:
            return people
        names = in_words([VENDORS[s] for s in self.systems])
        where = "both" if len(self.systems) == 2 else "more than one"
        both, agreeing = len(self.both), len(self.agreeing)
        same = f"all {both:,}" if agreeing == both else f"{agreeing:,} of {both:,}"
        return f"{people}\n{both:,} people in {where}: same score in {names} for {same}"

    def holders(self) -> dict[str, str]:
        """Person id -> the systems holding them, as a ranking shows it (none when there is
        one system: it holds everyone)."""
        if len(self.systems) < 2:
            return {}
        return {
            str(person): " · ".join(VENDORS[s] for s in systems)
            for person, systems in self.holders_of.items()
        }


def in_words(items: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return " and ".join([", ".join(items[:-1]), items[-1]] if len(items) > 2 else items)


def shared_scores(box: Sandbox, app: Leadscore) -> Shared:
    """The people of `app`'s store by system, and the score each emulator in `box` holds
    on every record of the people held by more than one system."""
    systems = tuple(c.system for c in app.connectors)
    records = app.store.records_by_person()
    counts = {s: sum(sys == s for pairs in records.values() for sys, _ in pairs) for s in systems}
    holders = {
        person: tuple(s for s in systems if any(sys == s for sys, _ in pairs))
        for person, pairs in records.items()
    }
    names = {s: app.fields(s).names["score"] for s in systems}
    scores: dict[int, dict[str, list[str | None]]] = {}
    for person, pairs in records.items():
        if len(holders[person]) < 2:
            continue
        scores[person] = {
            s: [held_score(box, s, record, names[s]) for sys, record in pairs if sys == s]
            for s in holders[person]
        }
    return Shared(systems, counts, holders, scores)


def signal_sources(
    app: Leadscore, batch: ScoreBatch, rows: Sequence[int]
) -> Callable[[int, str], str]:
    """For the people at `rows` of `batch`: given a row and a rule id, the systems whose
    activities that behaviour rule counts for that person ("" for a profile rule, or one
    system's person), read from the store."""
    types_of = {r.id: {t.value for t in r.activity or ()} for r in batch.rules.rules}
    records = app.store.records_by_person()
    wanted = {int(batch.contact_ids[row]) for row in rows}
    held = {(sys, record): person for person in wanted for sys, record in records.get(person, [])}
    addressed = {
        email: int(batch.contact_ids[row])
        for row in rows
        if (email := normalize_email(batch.emails.value(row))) is not None
    }
    found: dict[int, dict[str, set[str]]] = {}
    table = activities.c
    query = sa.select(table.system, table.record_id, table.email, table.type).where(
        table.record_id.in_([record for _, record in held]) | table.email.in_(list(addressed))
    )
    with app.store.engine.connect() as connection:
        for sys, record, email, kind in connection.execute(query.distinct()):
            person = held.get((sys, record))
            if person is None:
                person = addressed.get(normalize_email(email) or "")
            if person is not None:
                found.setdefault(person, {}).setdefault(kind, set()).add(sys)

    def sources(row: int, rule_id: str) -> str:
        person = int(batch.contact_ids[row])
        if len(records.get(person, [])) < 2:
            return ""
        kinds = found.get(person, {})
        systems = set().union(*(kinds.get(t, set()) for t in types_of.get(rule_id, ())))
        return "/".join(VENDORS[s] for s in VENDORS if s in systems)

    return sources


def account_engagement(
    app: Leadscore, batch: ScoreBatch, rows: Sequence[int]
) -> dict[int, Engaged]:
    """Per row of `rows`, its account's engaged people and people, from the roll-ups the
    sync kept (as the engine read them); rows without an account are left out."""
    rules = batch.rules
    if rules.accounts is None or not rows:
        return {}
    rollups = rollups_for(app.store, rules, app.job.clock().timestamp())
    if rollups is None:
        return {}
    ids = [int(batch.contact_ids[row]) for row in rows]
    frame, _ = app.store.load_people(ids).frames(rules.contact_fields(), [])
    keys = account_keys(rules.accounts, frame, rollups.domains)
    key_of = {
        str(person): str(keys.categories[code])
        for person, code in zip(frame.ids.tolist(), keys.codes.tolist(), strict=True)
        if code >= 0
    }
    found = {}
    for row in rows:
        rolled = rollups.accounts.get(key_of.get(str(batch.contact_ids[row]), ""))
        if rolled is not None:
            found[row] = (int(rolled[1]), int(rolled[0]))
    return found


def account_stage_line(app: Leadscore) -> str | None:
    """How many company records' accounts stand on each account stage (written onto
    them), from the roll-ups the sync kept; None without account stages."""
    rules = app.job.rules
    if rules.accounts is None or not rules.accounts.stages:
        return None
    rollups = rollups_for(app.store, rules, app.job.clock().timestamp())
    if rollups is None:
        return None
    held = [v for k, v in rollups.stage.items() if k.startswith(f"{KEY_FIELD}:")]
    counts = [f"{s.name} {held.count(s.name):,}" for s in rules.accounts.stages]
    return f"account stages (company records): {' · '.join(counts)}"


def held_score(box: Sandbox, system: str, record: str, name: str) -> str | None:
    """The score a record holds in its emulator, as a whole number's text; None if none."""
    raw: object = None
    if system == "hubspot":
        with box.hubspot.lock:
            try:
                raw = box.hubspot.contacts.value(name, box.hubspot.contact_row(record))
            except KeyError:
                raw = None
    elif system == "salesforce":
        with box.salesforce.org_lock:
            raw = (box.salesforce.org.record(record) or {}).get(name)
    elif system == "mailchimp":
        audience = box.mailchimp.audience
        with box.mailchimp.lock:
            row = audience.row_of(record.partition(":")[2])
            if row is not None and row not in audience.deleted:
                raw = audience.member(row).merge_fields.get(name)
    if raw in (None, ""):
        return None
    return f"{float(str(raw)):g}"
