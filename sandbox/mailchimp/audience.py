"""The audience: one list's members, merge fields and tags, projected lazily from the world."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.mailchimp.projection import (
    ACTIONS,
    STATUSES,
    TAG_OF_ACTION,
    MemberEvent,
    index_world,
    initial_changed,
    initial_status,
    soft_bounces,
    world_events,
)
from sandbox.mailchimp.values import md5_hex, subscriber_hash
from sandbox.world.tables import MAILCHIMP, World
from scoring.records import ACTIVITY_TYPES


class Columns:
    """Status code and last-changed time per member row, growable, for vectorized filters."""

    def __init__(self, status: npt.NDArray[np.int8], changed: npt.NDArray[np.float64]) -> None:
        self._status = status.copy()
        self._changed = changed.copy()
        self.size = len(status)

    @property
    def status(self) -> npt.NDArray[np.int8]:
        return self._status[: self.size]

    @property
    def changed(self) -> npt.NDArray[np.float64]:
        return self._changed[: self.size]

    def append(self, status: int, changed: float) -> int:
        if self.size == len(self._status):
            grown = max(16, 2 * self.size)
            self._status = np.resize(self._status, grown)
            self._changed = np.resize(self._changed, grown)
        self._status[self.size] = status
        self._changed[self.size] = changed
        self.size += 1
        return self.size - 1


@dataclass
class Member:
    """A member's data other than status and last_changed (those live in `Audience.columns`)."""

    email: str
    merge_fields: dict[str, Any]
    signup: float
    events: list[MemberEvent]
    tags: dict[str, float] = field(default_factory=dict)
    world_tags: frozenset[str] = frozenset()
    """The tags the world gave it, for counting a tag's members without projecting everyone."""
    email_type: str = "html"
    vip: bool = False
    language: str = ""
    source: str = "Import"


@dataclass
class MergeField:
    merge_id: int
    tag: str
    name: str
    type: str
    required: bool = False
    default_value: str = ""
    public: bool = True
    display_order: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    help_text: str = ""

    def to_json(self, list_id: str) -> dict[str, Any]:
        return {
            "merge_id": self.merge_id,
            "tag": self.tag,
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "public": self.public,
            "display_order": self.display_order,
            "options": self.options,
            "help_text": self.help_text,
            "list_id": list_id,
        }


DEFAULT_MERGE_FIELDS = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
    ("COMPANY", "Company", "text"),
)


class Audience:
    """One list: members projected lazily from the world, edited members kept by row.

    Rows are the list's order: the world's Mailchimp people first, then members
    added through the API. Status and last_changed of every row live in numpy
    columns so that filtered paging stays fast on a million members.
    """

    def __init__(
        self,
        world: World | None,
        list_id: str,
        soft_share: float = 0.0,
        status_shares: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        self.list_id = list_id
        self.index = index_world(world) if world is not None else None
        if self.index is not None:
            self.soft = soft_bounces(self.index, soft_share)
            self.columns = Columns(
                initial_status(self.index, self.soft, status_shares),
                initial_changed(self.index, self.soft),
            )
        else:
            self.soft = np.zeros(0, dtype=bool)
            self.columns = Columns(np.zeros(0, np.int8), np.zeros(0, np.float64))
        self.edited: dict[int, Member] = {}
        self.deleted: set[int] = set()
        """Rows deleted for good: no longer found by id, nor listed."""
        self.emails = self._world_emails()
        self.rows_by_hash = {subscriber_hash(e): row for row, e in enumerate(self.emails)}
        self._by_contact: dict[str, int] | None = None
        self.contact_ids: dict[int, str] = {}
        """Rows whose address changed or that were added: their `contact_id` (a world row's
        is made from its first address, `contact_id`)."""
        self.merge_fields = [
            MergeField(n + 1, tag, name, kind, display_order=n + 1)
            for n, (tag, name, kind) in enumerate(DEFAULT_MERGE_FIELDS)
        ]
        self.tag_ids: dict[str, int] = {}
        self.tag_created: dict[str, float] = {}
        """Tags made through the API (segments POST, tags POST), with when."""
        self.tag_updated: dict[str, float] = {}
        """When each tag's members last changed through the API."""
        self.world_tag_counts: dict[str, int] = {}
        """How many world members hold each world tag (`segments.world_tag_counts`)."""

    def _world_emails(self) -> list[str]:
        if self.index is None:
            return []
        people = self.index.world.people
        return [people.email_in(MAILCHIMP, int(p)).strip() for p in self.index.persons]

    @property
    def size(self) -> int:
        return self.columns.size

    def row_of(self, key: str) -> int | None:
        """The row of a subscriber hash, an address or a contact id (Mailchimp accepts all
        three: SDK docstrings of the member endpoints, `connectors.mailchimp.keys`)."""
        if "@" in key:
            return self.rows_by_hash.get(subscriber_hash(key))
        found = self.rows_by_hash.get(key.lower())
        if found is None:
            if self._by_contact is None:
                self._by_contact = {self.contact_id(row): row for row in range(self.size)}
            found = self._by_contact.get(key.lower())
            if found is not None and found in self.deleted:
                return None
        return found

    def status(self, row: int) -> str:
        return STATUSES[int(self.columns.status[row])]

    def last_changed(self, row: int) -> float:
        return float(self.columns.changed[row])

    def set_status(self, row: int, status: str) -> None:
        self.columns.status[row] = STATUSES.index(status)

    def touch(self, row: int, at: float) -> None:
        self.columns.changed[row] = max(at, self.last_changed(row))

    def member(self, row: int) -> Member:
        """The member at `row`: its edited copy, or a fresh projection of the world."""
        edited = self.edited.get(row)
        return edited if edited is not None else self._project(row)

    def edit(self, row: int) -> Member:
        """The member at `row`, kept from now on so that changes to it last."""
        if row not in self.edited:
            self.edited[row] = self._project(row)
        return self.edited[row]

    def _project(self, row: int) -> Member:
        assert self.index is not None, "rows without an edited copy come from the world"
        start, end = int(self.index.starts[row]), int(self.index.ends[row])
        world = self.index.world
        events = world_events(world, self.index.events[start:end], self.soft[start:end])
        tags = {
            TAG_OF_ACTION[e.action]: e.at for e in reversed(events) if e.action in TAG_OF_ACTION
        }
        return self._world_member(row, events, tags)

    def _world_member(self, row: int, events: list[MemberEvent], tags: dict[str, float]) -> Member:
        assert self.index is not None
        world, person = self.index.world, int(self.index.persons[row])
        people = world.people
        merge = {spec.tag: spec.default_value for spec in self.merge_fields}
        merge["FNAME"] = str(people.first_name[person])
        merge["LNAME"] = str(people.last_name[person])
        merge["COMPANY"] = str(world.companies.name[people.company[person]])
        created = float(people.created_at[person])
        return Member(self.emails[row], merge, created, events, tags, frozenset(tags))

    def view(self, row: int) -> tuple[Member, list[tuple[str, int]]]:
        """The member at `row` to show, and its (action, campaign) pairs in time order: a
        world member not edited is read without projecting its events (its copy holds
        none, its tags' times are not kept: not to be edited or kept)."""
        edited = self.edited.get(row)
        if edited is not None:
            return edited, [(e.action, e.campaign) for e in edited.events]
        assert self.index is not None
        table = self.index.world.events
        ids = self.index.events[int(self.index.starts[row]) : int(self.index.ends[row])]
        actions = [ACTIONS[ACTIVITY_TYPES[code]] for code in table.type[ids].tolist()]
        tags = {TAG_OF_ACTION[a]: 0.0 for a in actions if a in TAG_OF_ACTION}
        pairs = list(zip(actions, table.campaign[ids].astype(np.int64).tolist(), strict=True))
        return self._world_member(row, [], tags), pairs

    def add(self, email: str, status: str, at: float, source: str = "API - Generic") -> int:
        merge = {spec.tag: spec.default_value for spec in self.merge_fields}
        row = self.columns.append(STATUSES.index(status), at)
        self.edited[row] = Member(email, merge, at, [], source=source)
        self.emails.append(email)
        self.rows_by_hash[subscriber_hash(email)] = row
        self.contact_ids[row] = member_contact_id(email, row)
        if self._by_contact is not None:
            self._by_contact[self.contact_ids[row]] = row
        return row

    def contact_id(self, row: int) -> str:
        """The member's `contact_id`: made from its address when it joined, kept when the
        address changes (its `id`, the hash of the address, changes)."""
        return self.contact_ids.get(row) or member_contact_id(self.emails[row])

    def readdress(self, row: int, email: str) -> None:
        """Change a member's address, and so its id; its contact id stays."""
        self.contact_ids[row] = self.contact_id(row)
        del self.rows_by_hash[subscriber_hash(self.emails[row])]
        self.rows_by_hash[subscriber_hash(email)] = row
        self.emails[row] = email
        self.edit(row).email = email

    def delete(self, row: int) -> None:
        """Delete a member for good: its id is free again (a new member may take it)."""
        del self.rows_by_hash[subscriber_hash(self.emails[row])]
        self.deleted.add(row)

    def select(
        self, status: str | None, since: float | None, before: float | None
    ) -> npt.NDArray[np.intp]:
        """Rows matching the filters, in list order."""
        mask = np.ones(self.size, dtype=bool)
        if status is not None:
            mask &= self.columns.status == STATUSES.index(status)
        if since is not None:
            mask &= self.columns.changed >= since
        if before is not None:
            mask &= self.columns.changed <= before
        if self.deleted:
            mask[list(self.deleted)] = False
        return np.flatnonzero(mask)

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.columns.status.astype(np.intp), minlength=len(STATUSES))
        return {name: int(found[code]) for code, name in enumerate(STATUSES)}

    def merge_field(self, tag: str) -> MergeField | None:
        return next((spec for spec in self.merge_fields if spec.tag == tag), None)

    def tag_id(self, name: str) -> int:
        return self.tag_ids.setdefault(name, 100_000 + len(self.tag_ids) + 1)

    def set_tag(self, row: int, name: str, active: bool, at: float) -> bool:
        """Add or remove one tag of a member; whether that changed anything."""
        member = self.edit(row)
        if active == (name in member.tags):
            return False
        if active:
            member.tags[name] = at
            self.tag_created.setdefault(name, at)
        else:
            del member.tags[name]
        self.tag_updated[name] = at
        self.touch(row, at)
        return True


def member_contact_id(email: str, row: int | None = None) -> str:
    """The `contact_id` a member joining with `email` gets (32 hex digits, as Mailchimp's):
    a world member's from its address alone, a member added later (`row`) one of its own,
    so that a new member with an address another member left is another contact."""
    made = f"contact/{subscriber_hash(email)}"
    return md5_hex(made if row is None else f"{made}/{row}")
