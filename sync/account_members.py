"""Each account's people, kept in the store by person (schema version 14), so that a run
reads the people of the accounts it rolls up again, not everyone (`sync.account_step`).

account_members  a row per person with an account as the last roll-up of that account
                 found them: the account key; `due`, the moment (epoch seconds) from
                 which the person's own engagement or counts may change with no new data
                 (`scoring.due.rollup_due`: an activity leaving a window or dated later
                 starting to count; 0: roll the account up again at the next run, as a
                 rescore of one record leaves it); the email domain the person ties to the
                 account in the domain map (`scoring.account_domains.domain_pairs`); and
                 the company records the person's records name, votes for the account
                 each record is given (`sync.accounts.company_targets`), as JSON

The votes summed per company record are kept in the `meta` table beside the records'
accounts (`ACCOUNT_MEMBERS`), and moved by the rows a run replaces: a record's account is
worked out again from its votes. A person erased, merged away or dropped leaves a row that
the next run finds (`vanished`): it rolls their account up again without them and lets
the row go.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.schema import chunks, metadata, persons

account_members = sa.Table(
    "account_members",
    metadata,
    sa.Column("person_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("account", sa.Text, nullable=False),
    sa.Column("due", sa.Float, nullable=False),
    sa.Column("domain", sa.Text, nullable=True),
    sa.Column("votes", sa.Text, nullable=False),
    sa.Index("ix_account_members_account", "account"),
    sa.Index("ix_account_members_due", "due"),
    sa.Index("ix_account_members_domain", "domain"),
)

Vote = tuple[str, str]
"""A company record a person's record names: its system and its `account_id` as pulled,
as JSON text (7 and "7" are two)."""
Votes = dict[Vote, dict[str, int]]
"""Per company record named, per account key the number of people at it naming it."""


@dataclass(frozen=True)
class MemberRow:
    """A person's row of `account_members`."""

    person: int
    account: str
    due: float
    domain: str | None
    votes: tuple[Vote, ...]

    def row(self) -> dict[str, Any]:
        due = min(self.due, 1e18)  # `sync.dues.NEVER`: a float every backend holds
        votes = json.dumps([list(v) for v in self.votes])
        data = {"person_id": self.person, "account": self.account, "due": due}
        return {**data, "domain": self.domain, "votes": votes}


def create_member_tables(connection: Connection) -> None:
    account_members.create(connection, checkfirst=True)


def _members(connection: Connection, where: sa.ColumnElement[bool]) -> list[MemberRow]:
    query = sa.select(account_members).where(where)
    return [
        MemberRow(int(r.person_id), str(r.account), float(r.due), r.domain, _votes(r.votes))
        for r in connection.execute(query)
    ]


def _votes(text: str) -> tuple[Vote, ...]:
    return tuple((str(system), str(raw)) for system, raw in json.loads(text))


def members_in(connection: Connection, keys: Collection[str]) -> list[MemberRow]:
    """The rows of the people at these accounts."""
    return [m for part in chunks(sorted(keys)) for m in _members(connection, _in("account", part))]


def members_of(connection: Connection, person_ids: Collection[int]) -> list[MemberRow]:
    """The rows of these persons (those with one)."""
    ids = sorted(person_ids)
    return [m for part in chunks(ids) for m in _members(connection, _in("person_id", part))]


def _in(column: str, values: Iterable[Any]) -> sa.ColumnElement[bool]:
    return account_members.c[column].in_(list(values))


def due_members(connection: Connection, moment: float) -> list[MemberRow]:
    """The rows whose person's own roll-up values may have changed by `moment`."""
    return _members(connection, account_members.c.due <= moment)


def vanished(connection: Connection) -> list[MemberRow]:
    """The rows of persons the store no longer has (merged away, dropped)."""
    gone = ~sa.exists().where(persons.c.id == account_members.c.person_id)
    return _members(connection, gone)


def domain_pairs_of(
    connection: Connection, domains: Collection[str], leaving: Collection[int]
) -> set[tuple[str, str]]:
    """The (domain, account) pairs of the rows with these domains, but those of `leaving`."""
    found: set[tuple[str, str]] = set()
    left = set(leaving)
    table = account_members.c
    for part in chunks(sorted(domains)):
        query = sa.select(table.person_id, table.domain, table.account).where(_in("domain", part))
        found.update((d, a) for p, d, a in connection.execute(query) if int(p) not in left)
    return found


def has_members(connection: Connection) -> bool:
    return connection.execute(sa.select(account_members.c.person_id).limit(1)).first() is not None


def tally(votes: Votes, members: Iterable[MemberRow], sign: int) -> None:
    """Add (`sign` 1) or take away (-1) the votes of `members`."""
    for member in members:
        for vote in member.votes:
            counted = votes.setdefault(vote, {})
            counted[member.account] = counted.get(member.account, 0) + sign
            if counted[member.account] <= 0:
                del counted[member.account]
            if not counted:
                del votes[vote]


def replace_members(
    connection: Connection,
    keys: Collection[str],
    members: Collection[MemberRow],
    votes: Votes,
    *,
    write: bool = True,
) -> None:
    """The rows of the accounts `keys` (and of the persons of `members`) replaced by
    `members` (unless not `write`: a dry run), `votes` moved to match."""
    old = {m.person: m for m in members_in(connection, keys)}
    old.update((m.person, m) for m in members_of(connection, [m.person for m in members]))
    tally(votes, old.values(), -1)
    tally(votes, members, 1)
    if not write:
        return
    for part in chunks(sorted(old)):
        connection.execute(sa.delete(account_members).where(_in("person_id", part)))
    _insert(connection, members)


def _insert(connection: Connection, members: Collection[MemberRow]) -> None:
    rows = [m.row() for m in members]
    for start in range(0, len(rows), 10_000):
        connection.execute(sa.insert(account_members), rows[start : start + 10_000])


def replace_all(
    connection: Connection, members: Collection[MemberRow], *, write: bool = True
) -> Votes:
    """Every row replaced by `members` (unless not `write`); their votes."""
    if write:
        connection.execute(sa.delete(account_members))
        _insert(connection, members)
    votes: Votes = {}
    tally(votes, members, 1)
    return votes


def votes_json(votes: Votes) -> dict[str, dict[str, dict[str, int]]]:
    """`votes` as the `meta` entry keeps them: system -> record as pulled (JSON) -> counts."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for (system, raw), counted in sorted(votes.items()):
        out.setdefault(system, {})[raw] = dict(sorted(counted.items()))
    return out


def votes_from(data: Mapping[str, Mapping[str, Mapping[str, int]]]) -> Votes:
    return {
        (system, raw): {str(k): int(n) for k, n in counted.items()}
        for system, records in data.items()
        for raw, counted in records.items()
    }


def account_people(connection: Connection) -> dict[str, list[int]]:
    """Every account's person ids, as the rows keep them."""
    out: dict[str, list[int]] = {}
    query = sa.select(account_members.c.account, account_members.c.person_id)
    for key, person in connection.execute(query.order_by(account_members.c.person_id)):
        out.setdefault(str(key), []).append(int(person))
    return out
