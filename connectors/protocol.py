"""The connector protocol: the few verbs the sync layer needs from every system.

A connector pulls pages of normalized records per stream, creates the fields
it writes to, writes batches of values and fetches one person for a trigger.
It holds no state between runs: cursors are opaque strings that the sync
layer stores and commits once the writes they cover have landed.

    connector.pull("contacts", cursor)  ->  Page, Page, ...  (each with the cursor after it)
    connector.write_size(planned)        ->  records per write call this run
    connector.write([Write(...), ...])   ->  WriteOutcome (what landed, what failed and why)

What a system can hold and how its fields are named is not the connector's
secret: `Capabilities` says it (name rules, text limits, value types, whether
a stage is an ordered field, what records are keyed by), so the sync shapes
the values for each system without naming any of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, Protocol, runtime_checkable

from connectors.errors import vendor_text
from scoring.records import Activity, Contact

FieldKind = Literal["number", "enumeration", "text", "datetime", "boolean"]


@dataclass(frozen=True)
class Held:
    """What one pulled record holds of ours, read back: the stage we last wrote there and
    the system's own lifecycle value (both None when the record holds none)."""

    stage: str | None = None
    lifecycle: str | None = None


@dataclass(frozen=True)
class Capabilities:
    """How one system names the fields leadscore writes and what those fields can hold."""

    system: str
    field_name: Callable[[str, str], str]
    """(prefix, key) -> the field's name in the system, e.g. ("leadscore_", "score")."""
    name_pattern: str
    """A regular expression every field name must match in full."""
    max_name_length: int
    max_text_length: int
    """The longest text value a field takes; longer values are cut to it."""
    kinds: frozenset[FieldKind]
    """The value types the system's fields can hold; the others are written as text."""
    stage_ordered: bool
    """Whether our stage is an ordered field (an enumeration) there, or a label such as a tag."""
    record_key: Literal["id", "email"]
    """What a write names a record by."""
    write_batch_size: int
    lifecycle_field: str | None = None
    """The system's own lifecycle field our stage may be mapped onto, if it has one."""
    lifecycle_records: Callable[[str], bool] | None = None
    """Which records (by id) have the lifecycle field; None: every record."""
    lifecycle_note: str | None = None
    """What a stage mapping does not reach, said when one is set (once per run)."""
    moment_text: Callable[[datetime], str] | None = None
    """How a datetime field takes a moment, where the system's own format is not ISO 8601
    (None: UTC to the second with a Z; a Mailchimp date field takes MM/DD/YYYY)."""
    read_back: Callable[[Capabilities, Mapping[str, Any], Mapping[str, str]], Held] | None = None
    """How a pulled record's attributes show what it holds of ours, where that is not
    our stage field and the lifecycle field by name (a Mailchimp stage is a tag)."""
    read_back_fields: tuple[str, ...] = ()
    """The record's fields `read_back` reads beside our stage field and the lifecycle field
    (Mailchimp's `tags`): the state store keeps them (`sync.minimise`)."""
    read_back_prefix: str | None = None
    """Where a `read_back_fields` field is a list of names (Mailchimp's tags), the prefix of
    ours (`leadscore: `): the store keeps only those unless the rules read the field."""
    activity_keys: tuple[str, ...] = ()
    """The activity attributes a withdrawal names activities by (`Withdrawn.where`:
    Mailchimp's `list_id`): the state store keeps them whatever the rules read."""

    def name_problem(self, name: str) -> str | None:
        """Why `name` cannot be a field of this system, or None when it can."""
        if len(name) > self.max_name_length:
            return f"{name!r} is longer than {self.system}'s {self.max_name_length} characters"
        if re.fullmatch(self.name_pattern, name) is None:
            return f"{name!r} is not a {self.system} field name ({self.name_pattern})"
        return None

    def kind(self, wanted: FieldKind) -> FieldKind:
        """The type a field of kind `wanted` gets in this system."""
        return wanted if wanted in self.kinds else "text"

    def held(self, attributes: Mapping[str, Any], names: Mapping[str, str]) -> Held:
        """What a pulled record holds of ours (`names`: field key -> our field's name):
        by default, the values of our stage field and of the lifecycle field."""
        if self.read_back is not None:
            return self.read_back(self, attributes, names)

        def text(name: str | None) -> str | None:
            value = attributes.get(name) if name else None
            return str(value) if value not in (None, "") else None

        return Held(text(names.get("stage")), text(self.lifecycle_field))


@dataclass(frozen=True)
class Page:
    """Records of one stream, and the stream's cursor once they are stored."""

    stream: str
    contacts: Sequence[Contact] = ()
    activities: Sequence[Activity] = ()
    cursor: str | None = None
    """Where the next pull of this stream starts; None leaves the stored cursor as it is."""
    resume: str | None = None
    """Where a pull of this stream cut short after this page (a run's deadline) may start
    next time, so that it misses nothing: set only where the stream's pages come in an
    order a cursor can follow (ascending ids or modification moments), else None and a
    cut stream keeps its stored cursor."""
    gone: Sequence[Gone] = ()
    """Records the pull found deleted or merged into another (the sync re-points or
    retires what it held of them, as for a write that found them gone)."""
    withdrawn: Sequence[Withdrawn] = ()
    """Activities the pull found taken back (deleted in the system, or gone with the member
    who did them): the sync deletes them from the store in the transaction that stores the
    page, after its activities, and rescores their persons. Naming one the store does not
    hold does nothing."""


@dataclass(frozen=True)
class Withdrawn:
    """Activities a system took back, named one of three ways (the others left empty):

    - `activity_id`: the activity with that id, as the connector made it (a deleted
      Salesforce CampaignMember's `cm:<id>:sent` and `cm:<id>:responded`);
    - `prefix`: every activity whose id starts with it (a deleted Opportunity's purchases,
      one per contact role: `won:<opportunity id>:`);
    - `record_id` and/or `email`: every activity of that record, and every activity keyed
      by that address alone (not pinned to a record), each kept only where its attributes
      hold every (name, value) of `where` (a Mailchimp member's, in its own audience).
    """

    activity_id: str | None = None
    prefix: str | None = None
    record_id: str | None = None
    email: str | None = None
    where: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        ways = (self.activity_id, self.prefix, self.record_id or self.email)
        if sum(way is not None and way != "" for way in ways) != 1:
            raise ValueError("a withdrawal names an activity id, an id prefix or a contact")


@dataclass(frozen=True)
class FieldSpec:
    """One value leadscore writes back: its key, the field's name and type in the system."""

    key: str
    """What the value is: score, a dimension name, grade, stage, reasons, scored_at."""
    name: str
    label: str
    kind: FieldKind
    options: tuple[str, ...] = ()
    """Allowed values of an enumeration, in order."""
    description: str = ""


@dataclass(frozen=True)
class SetupReport:
    """What `setup` found and did: names created, already there, and updated (options added)."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    described: list[str] = field(default_factory=list)
    """Fields whose description no longer said what the rules do, set anew (a sync
    needs none of it: not `missing`)."""
    available: list[str] = field(default_factory=list)
    """Every contact field the system has (read to compare with ours), for the sync to
    warn about the attributes the rules read that no field gives."""

    @property
    def missing(self) -> list[str]:
        """What a sync would lack: fields to create and enumerations lacking options."""
        return [*self.created, *(f"options of {name}" for name in self.updated)]

    def joined(self, other: SetupReport) -> SetupReport:
        """This report and `other`, of the same system, as one (`available` is this one's)."""
        return replace(
            self,
            created=[*self.created, *other.created],
            existing=[*self.existing, *other.existing],
            updated=[*self.updated, *other.updated],
            described=[*self.described, *other.described],
        )


@dataclass(frozen=True)
class Write:
    """The values to set on one record; an empty string clears a field.

    `record_id` is the record's id in the system; `email` its address, set for
    systems whose records are keyed by address (`Capabilities.record_key`).
    """

    record_id: str
    values: Mapping[str, str]
    email: str | None = None


@dataclass(frozen=True)
class WriteFailure:
    record_id: str
    reason: str
    """The vendor's words, scrubbed of the credentials in use and cut short, as an
    `ApiError`'s are: they go to logs, the state store and `leadscore status`."""
    retryable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", vendor_text(self.reason))


@dataclass(frozen=True)
class Gone:
    """A record the system no longer has: merged into another (`merged_into`), or deleted.

    A write to it can never land; the sync stops writing to it.
    """

    record_id: str
    merged_into: str | None = None
    withdrawn: tuple[Withdrawn, ...] = ()
    """Activities that went with it but are not keyed by its id (a Mailchimp member's,
    keyed by its address): withdrawn in the transaction that retires the record."""
    for_good: bool = False
    """Deleted for good, with everything the system held of it (a HubSpot privacy
    deletion): the system's activities keyed by its address alone go with it too."""


@dataclass(frozen=True)
class WriteOutcome:
    """What one write call (or a batch split into several) did. `stamps` are the
    system's own modification times of what landed, the latest per call, where the
    system answers with them."""

    written: list[str] = field(default_factory=list)
    failed: list[WriteFailure] = field(default_factory=list)
    stamps: list[datetime] = field(default_factory=list)
    gone: list[Gone] = field(default_factory=list)


@dataclass(frozen=True)
class OwnWrites:
    """What one run wrote into a system, so that the next pull can pass over it.

    Every record the run wrote carries `value` (the run's scoring time) in `field_name`,
    and the system stamped the last of them at `until` (its own clock). A record
    changed by anyone after `until` is news; one whose field holds `value` and that
    has not changed since is only our own write.
    """

    field_name: str
    value: datetime
    until: datetime


class Connector(Protocol):
    """A system leadscore reads from and writes to."""

    capabilities: Capabilities
    streams: tuple[str, ...]
    """The streams `pull` knows, contacts first."""

    @property
    def system(self) -> str: ...

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Records of `stream` changed since `cursor`; None pulls everything."""
        ...

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        """Create the fields that are missing; idempotent."""
        ...

    def write_size(self, planned: int) -> int:
        """How many records each `write` of a run takes, told that the run has `planned`
        writes for this system: `capabilities.write_batch_size`, or more where the system
        has a bulk path that pays at that count (all `planned` in one call)."""
        ...

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        """Write at most `write_size(...)` records in one call (the count it answered)."""
        ...

    def start_run(self) -> None:
        """A run begins: its share of the system's daily request budget starts afresh."""
        ...

    def budget(self) -> Mapping[str, Any] | None:
        """The daily request budget as a run summary reports it; None where there is none."""
        ...

    def after_writes(self, stream: str, cursor: str, ours: OwnWrites) -> str:
        """`stream`'s cursor, amended so that its next pull passes over `ours`."""
        ...

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        """One contact, by its id in the system or by its email, with its recent activity."""
        ...

    def stage_values(self) -> list[str]:
        """The values of `capabilities.lifecycle_field`, lowest first, as the system orders them."""
        ...

    def calls(self) -> Mapping[str, int]:
        """API calls made so far, by operation, retries included."""
        ...


@runtime_checkable
class ChecksKnown(Protocol):
    """A connector that can say which of the record ids the store knows the system no
    longer has, by reading them back: for deletions no pull reports (a HubSpot privacy
    deletion, which leaves no archived record). The sync checks a slice of the known ids
    each run (`sync.gone_check`)."""

    def gone_among(self, ids: Sequence[str]) -> list[Gone]:
        """Those of `ids` (at most a few thousand) the system no longer has."""
        ...


@runtime_checkable
class Learns(Protocol):
    """A connector that learns something of its system as it works which the next process
    should not have to learn again with calls of its own (Salesforce: the org's pace on
    Bulk API 2.0 ingest jobs, `connectors.salesforce.jobs.Pace`). The sync hands it what
    the store kept before the system's writes and keeps what it learned after them
    (`sync.writing`): names to numbers, as JSON."""

    def learned(self) -> Mapping[str, float]:
        """What the connector knows now (empty: nothing to keep)."""
        ...

    def recall(self, kept: Mapping[str, Any]) -> None:
        """What a past run learned, as kept; a value it cannot use is passed over."""
        ...


@runtime_checkable
class GatesCalls(Protocol):
    """A connector whose calls can be held to a number in flight, whatever the threads
    making them: the write phase runs one thread more than the requests it lets out
    (`sync.writing`), so that a batch is made ready (its body encoded) while the others'
    requests are out and is sent the moment one of them is answered."""

    def calls_in_flight(self, most: int | None) -> None:
        """From now on at most `most` requests out at once (None: no bound)."""
        ...


@dataclass(frozen=True)
class ChangedCompanies:
    """Company records changed since a moment (`CompanyRecords.changed_companies`)."""

    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Record id -> its rule attributes."""
    newest: datetime | None = None
    """The latest change read (the stamp to ask from next), None when none was."""
    complete: bool = True
    """False when more changes remain than the calls allowed: the next ask goes on."""


@runtime_checkable
class CompanyRecords(Protocol):
    """A connector whose system has company records people belong to (HubSpot companies,
    Salesforce Accounts): their attributes read for an account's fit, and the account's
    values written back onto them (`sync.account_sync`)."""

    account_batch_size: int
    """Company records per write call."""

    def read_companies(
        self, ids: Sequence[str], attributes: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """The records of `ids` the system has, each with the rule `attributes` its fields
        give (ids it does not have are left out)."""
        ...

    def changed_companies(
        self, since: datetime | None, attributes: Sequence[str], *, going_on: bool = False
    ) -> ChangedCompanies:
        """The records changed at or after `since` (the system's own stamps, less its
        look-back unless `going_on` from a read the calls cut short), each with the rule
        `attributes`, oldest change first, in a bounded number of calls; without `since`,
        none, and the newest stamp the system holds now."""
        ...

    def setup_accounts(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        """`setup` for the company records' fields."""
        ...

    def write_accounts(self, writes: Sequence[Write]) -> WriteOutcome:
        """One batch of company records' values (at most `account_batch_size`)."""
        ...
