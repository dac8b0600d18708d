"""Errors of the sync, and what each tells the person who ran it.

    SyncError                   carries `lines` to show and the `exit_code` of the CLI
    ├── ConfigError             settings, rule file, field names or a stage mapping are wrong (2)
    │   └── NotConfigured       no system has credentials: nothing to sync (2)
    ├── SetupNeeded             a system lacks leadscore's fields: run `leadscore setup` (2)
    ├── NotInStore              the person asked about is not in the state store (1)
    ├── BadRecord               a rescore names no record: not SYSTEM:RECORD_ID, or a system
    │                           that is not configured (2)
    ├── RecordNotFound          the record a rescore names is not in its system: a 404 (1)
    │   └── RecordGone          ... and the system says it was deleted: retired (410) (1)
    └── StoreUnavailable        the state store cannot be reached (1)

Vendor API failures are `connectors.errors.ApiError` (exit 1); a sync its deadline cut
short exits 3 (`EXIT_PARTIAL`). Messages name
the setting, file, line or field at fault and never a secret: a state store
URL may carry a password, so store errors are named by their type only.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
EXIT_PARTIAL = 3
"""A sync its deadline cut short (`--max-seconds`): what it did is kept, the next run
takes up the rest; not a failure, but a scheduler should know the run did not finish."""


class SyncError(Exception):
    """Base of the sync's errors: one or more lines for a person, and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, lines: Sequence[str] | str) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        super().__init__("; ".join(self.lines))


class ConfigError(SyncError):
    """Settings, the rule file, field names or a stage mapping cannot be used as given."""

    exit_code = EXIT_BAD_INPUT


class NotConfigured(ConfigError):
    """No system has credentials: nothing to sync."""


class SetupNeeded(SyncError):
    """A system lacks fields leadscore writes: `leadscore setup` creates them."""

    exit_code = EXIT_BAD_INPUT


class NotInStore(SyncError):
    """Someone asked about a person the state store does not know."""


class BadRecord(SyncError):
    """A rescore names no record leadscore can fetch: not SYSTEM:RECORD_ID, a system
    that is not configured, or an id no store column can hold."""

    exit_code = EXIT_BAD_INPUT


class RecordNotFound(SyncError):
    """The record a rescore names does not exist in its system (it answered 404)."""


class RecordGone(RecordNotFound):
    """The record a rescore names was deleted in its system (archived, or for good): it
    was retired from the store as a pull's deletions are."""

    def __init__(self, lines: Sequence[str] | str, *, for_good: bool) -> None:
        super().__init__(lines)
        self.for_good = for_good


class StoreUnavailable(SyncError):
    """The state store cannot be reached."""
