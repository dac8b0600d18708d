"""A dry run: what setup would create and what a sync would write, changing nothing.

The run pulls and scores as a real one does, but into a scratch copy of the
state store, so the store is left byte for byte as it was (no people, no
activities, no run row, no cursor) and nothing is written to any system.
A SQLite file is copied whole (SQLite's online backup), so the dry run is an
exact preview of the next incremental run. Any other store (PostgreSQL, an
in-memory SQLite) is not copied: the dry run pulls everything into an empty
scratch store and compares with the values the real store says were last
written, which previews a full run.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from connectors.attributes import AttributeMap
from connectors.protocol import SetupReport
from scoring import RuleSet
from sync.store import StateStore


@contextmanager
def scratch_store(store: StateStore, as_of: datetime) -> Iterator[tuple[StateStore, bool]]:
    """(a scratch store to run in, whether it is an exact copy of `store`)."""
    with tempfile.TemporaryDirectory(prefix="leadscore-dry-run-") as folder:
        path = Path(folder) / "state.db"
        source = store.engine.url.database if store.engine.dialect.name == "sqlite" else None
        exact = bool(source) and source != ":memory:" and Path(str(source)).exists()
        if exact:
            with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
                with sqlite3.connect(path) as dst:
                    src.backup(dst)
                dst.close()
            src.close()
        scratch = StateStore(f"sqlite:///{path}")
        try:
            if not exact:
                for system in store.systems():
                    scratch.record_written(system, store.written_values(system), as_of)
            yield scratch, exact
        finally:
            scratch.close()


def unread_attributes(
    rules: RuleSet, attributes: Mapping[str, AttributeMap], reports: Mapping[str, SetupReport]
) -> list[str]:
    """One warning per system whose fields give none of some attributes the rules read."""
    warnings = []
    for system, report in reports.items():
        mapping = attributes.get(system)
        if mapping is None or not report.available:
            continue
        missing = mapping.missing(rules.contact_fields(), report.available)
        if missing:
            warnings.append(
                f"{system}: no contact field gives {', '.join(missing)}, which the rules "
                f"read: rules on them give no points there. Map a field to each with "
                f"LEADSCORE_{system.upper()}__ATTRIBUTES (JSON: field -> attribute), or "
                "change the rules"
            )
    return warnings
