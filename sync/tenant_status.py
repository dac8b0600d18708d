"""What `leadscore tenants` shows of each tenant: its systems, rule file, state and, from
its own store, the last run of each system and the locks held now."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sync.errors import SyncError
from sync.tenants import Tenant

RUNS_READ = 200
"""How many of a store's latest runs are read to find each system's last one."""


@dataclass(frozen=True)
class SystemStatus:
    """One system of a tenant: its last run and whether a run holds its lock now."""

    system: str
    last_run: str | None = None
    """When the last run that synced it started (ISO 8601, UTC); None: never."""
    status: str | None = None
    written: int | None = None
    running: bool = False


@dataclass(frozen=True)
class TenantStatus:
    name: str
    rules: str
    state: str
    """Where its state is kept, never the URL (it may hold a password)."""
    systems: list[SystemStatus] = field(default_factory=list)
    problem: str | None = None
    """Why its settings or store could not be read."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def tenant_status(tenant: Tenant) -> TenantStatus:
    """The tenant's status, read from its own store; a problem said, never raised."""
    systems = [SystemStatus(s) for s in tenant.systems]
    rules = str(tenant.rules)
    try:
        settings = tenant.settings()
    except SyncError as exc:
        return TenantStatus(tenant.name, rules, "unknown", systems, "; ".join(exc.lines))
    url = settings.state_url.get_secret_value()
    state = state_place(url)
    if url.startswith("sqlite") and not _sqlite_exists(url):
        return TenantStatus(tenant.name, rules, state, systems)  # never run: nothing made
    try:
        return TenantStatus(tenant.name, rules, state, _from_store(url, tenant.systems))
    except SyncError as exc:
        return TenantStatus(tenant.name, rules, state, systems, "; ".join(exc.lines))


def state_place(url: str) -> str:
    """Where a state URL keeps a tenant's state, in words without the URL's secrets."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from sync.pg_schema import SEARCH_PATH

    try:
        parsed = make_url(url)
    except ArgumentError:
        return "unknown"
    if parsed.drivername.startswith("sqlite"):
        return f"SQLite {parsed.database or 'in memory'}"
    found = SEARCH_PATH.search(str(parsed.query.get("options") or ""))
    schema = found.group(1) if found else "default"
    return f"{parsed.get_backend_name()} {parsed.database or ''} schema {schema}".replace("  ", " ")


def _sqlite_exists(url: str) -> bool:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    return not database or database == ":memory:" or Path(database).exists()


def _from_store(url: str, systems: list[str]) -> list[SystemStatus]:
    import sqlalchemy.exc

    from sync.app import open_store, store_problem
    from sync.errors import StoreUnavailable
    from sync.locks import held_locks

    store = open_store(url)
    try:
        runs = store.runs(RUNS_READ)
        running = set(held_locks(store))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StoreUnavailable(store_problem(exc)) from None
    finally:
        store.close()
    found = []
    for system in systems:
        last = next((r for r in runs if system in r.summary.get("systems", {})), None)
        if last is None:
            found.append(SystemStatus(system, running=system in running))
            continue
        written = last.summary["systems"][system].get("written")
        when = last.started_at.isoformat(timespec="seconds")
        found.append(SystemStatus(system, when, last.status, written, system in running))
    return found
