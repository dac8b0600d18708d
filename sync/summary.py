"""What a run is asked to do (`SyncOptions`) and what it did (`SyncSummary`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connectors.protocol import SetupReport, Write
from sync.errors import ConfigError
from sync.logs import without_addresses

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scoring import RuleSet
    from sync.capacity import HandoverQueue
    from sync.fields import FieldMap
    from sync.gone_check import GoneCheck
    from sync.retention import Retention
    from sync.shadow import ShadowComparison


@dataclass(frozen=True)
class SyncOptions:
    full: bool = False
    """Pull everything from the start, ignoring cursors."""
    dry_run: bool = False
    """Pull and diff, write nothing to any system, commit no cursor."""
    limit: int | None = None
    """A trial: this many contacts per system, each fetched with all its activity, and
    at most this many written. No cursor moves, so a later run sees everything again."""
    workers: int = 4
    """Write batches in flight at once per system; the call policy paces them."""
    wait: float = 0.0
    """Seconds to wait for another run's lock before skipping (`sync/locks.py`)."""
    deadline: float | None = None
    """The moment, on the run's monotonic clock (`Sync.monotonic`: `time.monotonic()`
    unless a test injects one), by which the run must have returned; None: no deadline.
    A serverless handler passes `time.monotonic()` plus the platform's remaining time
    less a safety margin. The run stops pulling in time to score and write what it
    stored, stops writing at the deadline, and ends "partial" (`sync/deadline.py`)."""
    shadow: RuleSet | None = field(default=None, compare=False)
    """Shadow rules: the people scored are scored again under them and the two compared
    (`sync/shadow.py`); nothing of them is written or kept."""
    shadow_name: str = "shadow"
    """The shadow rule file's name, as the comparison shows it."""
    shadow_top: int = 10
    shadow_fields: Mapping[str, FieldMap] | None = field(default=None, compare=False)
    """Per system, the shadow rules' own fields (`sync.shadow_write`): their score, stage
    and grade are written there when they change; None: nothing of them is written."""
    """How many of the people whose rank moves most the comparison lists."""
    retention: Retention | None = field(default=None, compare=False)
    """How long the store keeps activities and score history: the run purges what is
    older (`sync/retention.py`); None: nothing. `Leadscore.sync` gives the settings'."""
    gone_check: GoneCheck | None = field(default=None, compare=False)
    """How often the known record ids are read back to find deletions no pull reports
    (`sync/gone_check.py`); None: never. `Leadscore.sync` gives the settings'."""

    def __post_init__(self) -> None:
        if self.deadline is not None and not math.isfinite(self.deadline):
            raise ConfigError("deadline: expected a finite moment in seconds")


@dataclass
class SystemSummary:
    contacts: int = 0
    activities_pulled: int = 0
    activities_new: int = 0
    contacts_changed: int = 0
    withdrawn: int = 0
    """Activities the system took back (`Page.withdrawn`, `Gone.withdrawn`) that the run
    deleted from the store."""
    planned: int = 0
    written: int = 0
    failed: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    stream_seconds: dict[str, float] = field(default_factory=dict)
    """How long each stream took to pull, side by side with the others."""
    budget: dict[str, Any] | None = None
    """The system's daily request budget after the run: limit, this run's share and spending."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass
class SyncSummary:
    """What a run did, for the terminal, the JSON log and the run table."""

    mode: str
    systems: dict[str, SystemSummary] = field(default_factory=dict)
    persons: int = 0
    rescored: int = 0
    changed: int = 0
    queued: int = 0
    """Records triggers queued for this run (`sync/trigger.py`), fetched and rescored by it."""
    elapsed: float = 0.0
    status: str = "ok"
    """"ok"; "partial" when the run's deadline cut it short (a warning says what was
    left for the next run); "failed" with `error`."""
    plan: dict[str, list[Write]] = field(default_factory=dict)
    error: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent pulling, scoring, planning and writing."""
    setup: dict[str, SetupReport] = field(default_factory=dict)
    """A dry run's: per system, what `leadscore setup` would create."""
    warnings: list[str] = field(default_factory=list)
    """Fields the rules compare as numbers that hold text that is no number; a dry run's
    also attributes the rules read that a system's fields do not give."""
    emails: dict[str, dict[str, str]] = field(default_factory=dict)
    """A dry run's: per system, the email of each record planned, to show it by."""
    stuck: list[str] = field(default_factory=list)
    """Streams ("hubspot deals") the deadline cut short that could not keep their place:
    the next run pulls them from the same cursor (`sync/resume.py`)."""
    shadow: ShadowComparison | None = None
    """Shadow rules' comparison with the live ones, when the run was given them."""
    models: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    """Per extra model (`sync.models`) and system, its fields' writes planned, written
    and failed."""
    purged: dict[str, int] = field(default_factory=dict)
    checked: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per system, the known ids read back this run, those found gone and the calls spent
    (`sync/gone_check.py`)."""
    """Rows the run's retention purge deleted, per table (`sync/retention.py`)."""
    handover: HandoverQueue | None = None
    """Sales capacity's queue after the run's hand-over (`sync/capacity.py`)."""
    accounts: dict[str, SystemSummary] = field(default_factory=dict)
    """Per system, its company records' writes of account values (`sync.account_sync`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "status": self.status,
            "persons": self.persons,
            "rescored": self.rescored,
            "changed": self.changed,
            "queued": self.queued,
            "elapsed_seconds": round(self.elapsed, 3),
            # for the runs table and the log: a vendor's error text may quote an address
            "error": None if self.error is None else without_addresses(self.error),
            "warnings": [without_addresses(w) for w in self.warnings],
            "stuck_streams": list(self.stuck),
            "phase_seconds": {k: round(v, 3) for k, v in self.phases.items()},
            "purged": dict(self.purged),
            "gone_check": {k: dict(v) for k, v in self.checked.items()},
            "accounts": {
                name: {"planned": s.planned, "written": s.written, "failed": s.failed}
                for name, s in self.accounts.items()
            },
            "systems": {
                name: {
                    "contacts_pulled": s.contacts,
                    "activities_pulled": s.activities_pulled,
                    "activities_new": s.activities_new,
                    "contacts_changed": s.contacts_changed,
                    "activities_withdrawn": s.withdrawn,
                    "planned": s.planned,
                    "written": s.written,
                    "failed": s.failed,
                    "calls": s.total_calls,
                    "calls_by_operation": dict(sorted(s.calls.items())),
                    "stream_seconds": {k: round(v, 3) for k, v in s.stream_seconds.items()},
                    "budget": s.budget,
                }
                for name, s in self.systems.items()
            },
            **({} if self.shadow is None else {"shadow": self.shadow.as_dict()}),
            **({"models": {k: dict(v) for k, v in self.models.items()}} if self.models else {}),
            **({} if self.handover is None else {"handover": self.handover.as_dict()}),
        }
