"""The sync: pull what changed from each system, score everyone, write back what changed.

The public face: `Leadscore` wires a run from settings (the CLI, the demo, the
benchmarks, the tests and the triggers all use it; `Leadscore.rescore` gives a
trigger's `Rescored`); `Sync` is the run itself;
`SyncOptions` what it is asked to do and `SyncSummary` what it did;
`StateStore` the store it keeps between runs; `load_settings` the settings.

The names are imported when first used, so that `leadscore validate` and
`leadscore score`, which need none of them, never load the store's SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.app import Explanation, Leadscore
    from sync.errors import (
        BadRecord,
        ConfigError,
        NotConfigured,
        NotInStore,
        RecordNotFound,
        SetupNeeded,
        StoreUnavailable,
        SyncError,
    )
    from sync.fields import FieldMap
    from sync.pipeline import Sync
    from sync.settings import Settings, load_settings
    from sync.store import StateStore
    from sync.summary import SyncOptions, SyncSummary, SystemSummary
    from sync.trigger import Rescored
    from sync.writing import WritePlan

_HOMES = {
    "Explanation": "sync.app",
    "Leadscore": "sync.app",
    "BadRecord": "sync.errors",
    "ConfigError": "sync.errors",
    "NotConfigured": "sync.errors",
    "NotInStore": "sync.errors",
    "RecordNotFound": "sync.errors",
    "SetupNeeded": "sync.errors",
    "StoreUnavailable": "sync.errors",
    "SyncError": "sync.errors",
    "FieldMap": "sync.fields",
    "Sync": "sync.pipeline",
    "WritePlan": "sync.writing",
    "Settings": "sync.settings",
    "load_settings": "sync.settings",
    "StateStore": "sync.store",
    "SyncOptions": "sync.summary",
    "SyncSummary": "sync.summary",
    "SystemSummary": "sync.summary",
    "Rescored": "sync.trigger",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "BadRecord",
    "ConfigError",
    "Explanation",
    "FieldMap",
    "Leadscore",
    "NotConfigured",
    "NotInStore",
    "RecordNotFound",
    "Rescored",
    "Settings",
    "SetupNeeded",
    "StateStore",
    "StoreUnavailable",
    "Sync",
    "SyncError",
    "SyncOptions",
    "SyncSummary",
    "SystemSummary",
    "WritePlan",
    "load_settings",
]
