"""A state store filled by a real sync of the three sandboxes, and a scan of every column of
every table for what identifies a person (as text, and inside JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from connectors.mailchimp.keys import member_hash
from sandbox import Sandbox
from scoring import RuleSet, default_rules_text, parse_rules
from sync.app import Leadscore
from sync.demo import sandbox_settings
from sync.schema import gone, identities, metadata, persons
from sync.store import StateStore

SYSTEMS = ("hubspot", "salesforce", "mailchimp")


def default_rules() -> RuleSet:
    return parse_rules(default_rules_text(), "default.yaml")


def open_app(box: Sandbox, url: str, rules: RuleSet | None = None) -> Leadscore:
    settings = sandbox_settings(box, url, systems=SYSTEMS)
    return Leadscore.open(
        settings, rules=rules or default_rules(), clock=box.now, pace=box.clock,
        http=box.sessions(),
    )  # fmt: skip


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    records: frozenset[tuple[str, str]]
    """Every record id the store held of them: live ones and those merged into them."""


def person_in_every_system(
    store: StateStore, keep: Callable[[set[tuple[str, str]]], bool] | None = None
) -> Person:
    """A person with a record in each of the three systems (and, given `keep`, whose
    (system, record) pairs it keeps); one with a record merged into theirs (a converted
    lead) where there is one. Which person is which number follows the order the pulls
    stored them in, which the threads' timing may change: a test that needs a person of
    some kind says so by `keep`."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(identities.c.person_id, identities.c.system, identities.c.record_id)
        ).all()
        merged = connection.execute(
            sa.select(gone.c.system, gone.c.record_id, gone.c.merged_into)
        ).all()
        by_person: dict[int, set[tuple[str, str]]] = {}
        for pid, system, record in rows:
            by_person.setdefault(int(pid), set()).add((system, record))
        candidates = sorted(p for p, rs in by_person.items() if {s for s, _ in rs} == set(SYSTEMS))
        assert candidates, "the sandbox world shares no person between the three systems"
        if keep is not None:
            candidates = [p for p in candidates if keep(by_person[p])]
            assert candidates, "no person in the three systems is of the kind asked"

        def losers(pid: int) -> set[tuple[str, str]]:
            return {(s, r) for s, r, into in merged if (s, into) in by_person[pid]}

        chosen = max(candidates, key=lambda p: (len(losers(p)), -p))
        email = connection.execute(
            sa.select(persons.c.email).where(persons.c.id == chosen)
        ).scalar_one()
    return Person(chosen, email, frozenset(by_person[chosen] | losers(chosen)))


def _leaves(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield key, str(name)
            yield from _leaves(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, key)
    elif value is not None:
        yield key, str(value)


def texts(value: Any, column: str = "") -> Iterator[tuple[str, str]]:
    """A stored value as (column, text), and, where it is JSON, every key and value inside
    it as (the key it is under, text)."""
    if value is None:
        return
    text = str(value)
    yield column, text
    try:
        decoded = json.loads(text)
    except ValueError:
        return
    yield from _leaves(decoded, column)


SHORT_ID = 8
"""Record ids shorter than this (HubSpot's "34") are looked for as whole values of id
columns and id keys only: anywhere else they are found inside every number."""


ROW_NUMBERS = ("id", "person_id", "run_id")
"""The store's own row numbers (persons, history, runs and the write log's runs), not a
system's record ids."""


def _names_an_id(name: str) -> bool:
    name = name.lower()
    if name in ROW_NUMBERS:
        return False
    return name in ("record_id", "merged_into", "key", "name") or name.endswith(("id", "ids"))


def strings_in(value: Any) -> Iterator[str]:
    """A stored text, and every string inside it where it is JSON (not its numbers)."""
    if value is None:
        return
    yield str(value)
    try:
        decoded = json.loads(str(value))
    except ValueError:
        return
    stack = [decoded]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            yield item


def traces(store: StateStore, address: str, records: frozenset[tuple[str, str]]) -> list[str]:
    """Every (table.column = value) that holds the address (as given or normalized, or its
    Mailchimp subscriber hash) anywhere in its text, or one of the record ids: a long one
    anywhere in the text, a short one as a whole value under an id's name (`SHORT_ID`), or
    as any whole string of a `meta` value, whatever its key (a cursor's position)."""
    needles = {address, address.strip().lower(), member_hash(address)}
    needles |= {r.lower() for _, r in records if len(r) >= SHORT_ID}
    short = {r for _, r in records if len(r) < SHORT_ID}
    found: list[str] = []
    with store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                for column, value in row._mapping.items():
                    for name, text in texts(value, column):
                        lowered = text.lower()
                        if any(n in lowered for n in needles) or (
                            text in short and _names_an_id(name)
                        ):
                            found.append(f"{table.name}.{column} ({name}) = {text[:80]}")
                    if table.name == "meta" and column == "value":
                        found += [
                            f"meta.value ({row._mapping['key']}) = {str(value)[:80]}"
                            for text in strings_in(value)
                            if text in short
                        ]
    return found


def snapshot(store: StateStore) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table, per table."""
    with store.engine.connect() as connection:
        return {
            t.name: {tuple(r) for r in connection.execute(sa.select(t))}
            for t in metadata.sorted_tables
        }


def held_value(box: Sandbox, system: str, record: str, name: str) -> object:
    """The value of field `name` a record holds in its emulator (None: none)."""
    if system == "hubspot":
        with box.hubspot.lock:
            return box.hubspot.contacts.value(name, box.hubspot.contact_row(record))
    if system == "salesforce":
        with box.salesforce.org_lock:
            return (box.salesforce.org.record(record) or {}).get(name)
    audience = box.mailchimp.audience
    with box.mailchimp.lock:
        row = audience.row_of(record.partition(":")[2])
        assert row is not None
        return audience.member(row).merge_fields.get(name)


def stage_tags(box: Sandbox, record: str) -> list[str]:
    """The `leadscore: ` tags a Mailchimp member holds."""
    audience = box.mailchimp.audience
    with box.mailchimp.lock:
        row = audience.row_of(record.partition(":")[2])
        assert row is not None
        return sorted(t for t in audience.member(row).tags if t.startswith("leadscore: "))
