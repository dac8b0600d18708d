"""The connector protocol: the few verbs the sync layer needs from every system.

A connector pulls pages of normalized records per stream, creates the fields
it writes to, writes batches of values and fetches one person for a trigger.
It holds no state between runs: cursors are opaque strings that the sync
layer stores and commits once the writes they cover have landed.

    connector.pull("contacts", cursor)  ->  Page, Page, ...  (each with the cursor after it)
    connector.write([Write(...), ...])   ->  WriteOutcome (what landed, what failed and why)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from scoring.records import Activity, Contact

FieldKind = Literal["number", "enumeration", "text", "datetime"]


@dataclass(frozen=True)
class Page:
    """Records of one stream, and the stream's cursor once they are stored."""

    stream: str
    contacts: Sequence[Contact] = ()
    activities: Sequence[Activity] = ()
    cursor: str | None = None
    """Where the next pull of this stream starts; None leaves the stored cursor as it is."""


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


@dataclass(frozen=True)
class Write:
    """The values to set on one record; an empty string clears a field."""

    record_id: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class WriteFailure:
    record_id: str
    reason: str
    retryable: bool = True


@dataclass(frozen=True)
class WriteOutcome:
    written: list[str] = field(default_factory=list)
    failed: list[WriteFailure] = field(default_factory=list)


class Connector(Protocol):
    """A system leadscore reads from and writes to."""

    system: str
    streams: tuple[str, ...]
    """The streams `pull` knows, contacts first."""
    write_batch_size: int
    stage_field: str | None
    """The system's own lifecycle field our stage may be mapped onto, if it has one."""

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Records of `stream` changed since `cursor`; None pulls everything."""
        ...

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        """Create the fields that are missing; idempotent."""
        ...

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        """Write at most `write_batch_size` records in one call."""
        ...

    def fetch(self, key: str) -> Page:
        """One contact, by id or email, with its recent activity."""
        ...

    def stage_values(self) -> list[str]:
        """The values of `stage_field`, lowest first, as the system orders them."""
        ...

    def calls(self) -> Mapping[str, int]:
        """API calls made so far, by operation, retries included."""
        ...
