"""Tenants: one deployment syncing many HubSpot portals, Salesforce orgs and Mailchimp
accounts, each with its own credentials, rule file, settings and state, sharing nothing.

    tenants = read_tenants()                       # LEADSCORE_TENANTS_FILE, tenants.yaml
    settings = tenants["acme"].settings()          # a `Settings` of acme's alone
    summary = run_tenant("acme", "hubspot")        # a sync of acme's HubSpot

The file and its checks are in `sync.tenants_file`. A tenant's settings come from the file
(its `defaults` and its own entry), its references and its secrets directory: never from
the deployment's `LEADSCORE_*` environment or `.env`, so that no tenant runs on another's
(or the deployment's) token. Each tenant's state is apart: a SQLite file of its own
(`state_url` with `{tenant}` in it; by default `sqlite:///leadscore-{tenant}.db`), or a
PostgreSQL schema of its own in one database (`state_schema`, by default the tenant's
name), which every connection of its store, ADBC's included, has as its `search_path`.
The run locks (`sync.locks`) live in the tenant's own store: two runs of one tenant and
system never overlap, and tenants never wait for each other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, NestedSecretsSettingsSource, PydanticBaseSettingsSource

from connectors.registry import SYSTEMS
from sync.errors import ConfigError
from sync.settings import PREFIX, Settings, credential_settings, settings_model
from sync.tenants_file import (
    Reference,
    TenantEntry,
    TenantsFileError,
    read_entries,
)

__all__ = ["Tenant", "TenantsFileError", "read_tenants", "run_tenant", "tenants_path"]

DEFAULT_STATE_URL = "sqlite:///leadscore-{tenant}.db"
"""A tenant's state store when the file names none: a SQLite file of its own."""


@dataclass(frozen=True)
class Tenant:
    """One tenant of the tenants file."""

    entry: TenantEntry

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def file(self) -> Path:
        return self.entry.file

    @property
    def systems(self) -> list[str]:
        """The systems the tenant configures (each credential given in the file or its
        secrets directory), in the registry's order; read without resolving a secret."""
        found = []
        folder = self.secrets_dir
        for entry in SYSTEMS:
            section = self.entry.values.get(entry.name) or {}
            needed = entry.settings.credentials
            named = [
                n
                for n in needed
                if section.get(n) is not None
                or (
                    folder is not None and (folder / f"{PREFIX}{entry.name}__{n}".upper()).is_file()
                )
            ]
            if needed and len(named) == len(needed):
                found.append(entry.name)
        return found

    @property
    def secrets_dir(self) -> Path | None:
        where = self.entry.values.get("secrets_dir")
        return None if where is None else self.file.parent / str(where)

    @property
    def rules(self) -> Path:
        """The tenant's rule file (relative: from the tenants file's folder)."""
        return self.file.parent / str(self.entry.values.get("rules", "leadscore.yaml"))

    def settings(self, system: str | None = None) -> Settings:
        """The tenant's settings: its references read now, checked as the environment's
        are; `system` keeps that system's section alone (a run of one system). A
        `ConfigError` names the tenants file, the line and the field."""
        values = {k: v for k, v in self.entry.values.items() if k not in ("secrets_dir",)}
        schema = values.pop("state_schema", None)
        problems: list[str] = []
        resolved = self._resolved(values, (), problems)
        if problems:
            raise TenantsFileError(problems)
        resolved["rules"] = self.rules
        url = str(resolved.get("state_url") or DEFAULT_STATE_URL.replace("{tenant}", self.name))
        try:
            resolved["state_url"] = namespaced(url, schema or self.name)
        except ValueError as exc:
            raise TenantsFileError(self.entry.problem(("state_schema",), str(exc))) from None
        if system is not None and system not in self.systems:
            raise ConfigError(
                f"tenant {self.name} syncs no system {system!r}; its systems: "
                f"{', '.join(self.systems) or 'none'} (set in {self.file})"
            )
        try:
            folder = self.secrets_dir
            model = _tenant_model()
            if folder is not None:
                if not folder.is_dir():
                    message = f"no directory {folder}"
                    raise TenantsFileError(self.entry.problem(("secrets_dir",), message))
                settings: Settings = model(_secrets_dir=folder, **resolved)
            else:
                settings = model(**resolved)
        except ValidationError as exc:
            raise TenantsFileError(
                [self._problem(e) for e in exc.errors(include_url=False)]
            ) from None
        return settings if system is None else one_system(settings, system)

    def _resolved(
        self, values: Mapping[str, Any], path: tuple[str, ...], problems: list[str]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, dict):
                out[key] = self._resolved(value, (*path, key), problems)
            elif isinstance(value, Reference):
                secret = value.read(self.file.parent)
                if secret is None:
                    what = "is not set" if value.kind == "env" else "cannot be read"
                    problems.append(self.entry.problem((*path, key), f"{value} {what}"))
                out[key] = secret
            else:
                out[key] = value
        return out

    def _problem(self, error: Mapping[str, Any]) -> str:
        path = tuple(str(p) for p in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        return self.entry.problem(path, message)


@functools.cache
def _tenant_model() -> type[Settings]:
    class TenantSettings(settings_model()):  # type: ignore[misc]
        """A tenant's settings: from the tenants file and its secrets directory alone."""

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return init_settings, NestedSecretsSettingsSource(file_secret_settings)

    model: type[Settings] = TenantSettings
    return model


def one_system(settings: Settings, system: str) -> Settings:
    """The settings with every system's section but `system`'s left empty: a run of that
    system alone (`sync --system`), or a `ConfigError` when it is not configured."""
    names = [e.name for e in SYSTEMS]
    if system not in names:
        raise ConfigError(f"--system: expected one of {', '.join(names)}; got {system!r}")
    if not settings.section(system).configured:
        raise ConfigError(f"{system} is not configured: set {credential_settings(system)}")
    blank = {e.name: e.settings() for e in SYSTEMS if e.name != system}
    return settings.model_copy(update=blank)


def namespaced(url: str, schema: str) -> str:
    """The URL of a tenant's state: a PostgreSQL URL with `schema` as the search path of
    every connection (libpq's `options`, which psycopg and ADBC both pass on); any other
    URL as it is (a SQLite file is the tenant's by its `{tenant}`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from sync.tenants_file import NAME

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url  # said by the settings' own check of the URL
    if not parsed.drivername.startswith("postgresql"):
        return url
    if not NAME.match(schema):
        raise ValueError("expected 1 to 40 lower-case letters, digits and underscores")
    options = str(parsed.query.get("options") or "")
    if "search_path" in options:
        raise ValueError("the state_url's options already set a search_path: leave it out")
    options = f"{options} -csearch_path={schema}".strip()
    return parsed.update_query_dict({"options": options}).render_as_string(hide_password=False)


def tenants_path(path: Path | None = None) -> Path:
    """The tenants file: `path`, else the `LEADSCORE_TENANTS_FILE` setting."""
    if path is not None:
        return path
    from sync.config import read_settings

    return read_settings().tenants_file


def read_tenants(path: Path | None = None) -> dict[str, Tenant]:
    """Name -> tenant, from `path` (None: the `LEADSCORE_TENANTS_FILE` setting, default
    tenants.yaml); a `TenantsFileError` (exit 2) naming file, line and field of each problem.
    Two tenants whose state would be one are refused: they would share runs and locks."""
    file = tenants_path(path)
    tenants = {e.name: Tenant(e) for e in read_entries(file)}
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for tenant in tenants.values():
        key = _namespace(tenant)
        if key in seen:
            message = (
                f"tenants {seen[key]} and {tenant.name} would share one state store: put "
                "{tenant} in state_url (sqlite:///state/{tenant}.db), or give each its own "
                "state_schema"
            )
            problems.append(tenant.entry.problem(("state_url",), message))
        seen.setdefault(key, tenant.name)
    if problems:
        raise TenantsFileError(problems)
    return tenants


def _namespace(tenant: Tenant) -> tuple[str, str]:
    url = tenant.entry.values.get("state_url", DEFAULT_STATE_URL.replace("{tenant}", tenant.name))
    schema = str(tenant.entry.values.get("state_schema") or tenant.name)
    if isinstance(url, Reference):
        return f"{url.kind}:{url.where}", schema
    text = str(url)
    return (text, schema) if text.startswith("postgres") else (text, "")


def tenant(name: str, tenants_file: Path | None = None) -> Tenant:
    """The tenant `name`, or a `ConfigError` listing the tenants there are."""
    tenants = read_tenants(tenants_file)
    found = tenants.get(name)
    if found is None:
        file = tenants_path(tenants_file)
        raise ConfigError(
            f"no tenant {name!r} in {file}; its tenants: {', '.join(sorted(tenants))}"
        )
    return found


def run_tenant(
    name: str,
    system: str | None = None,
    *,
    tenants_file: Path | None = None,
    full: bool = False,
    wait: float = 0.0,
    clock: Callable[[], datetime] | None = None,
    http: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A sync of one tenant: every system it configures, or `system` alone (pulled,
    scored with the tenant's whole store, written to that system only). Returns the
    run summary's `as_dict()`; raises a `SyncError` on failure, and `LockHeld` when a run
    of the same tenant and system holds the lock (after `wait` seconds). `clock` and
    `http` are `Leadscore.open`'s (tests against the sandbox)."""
    from sync.app import Leadscore
    from sync.summary import SyncOptions

    chosen = tenant(name, tenants_file)
    settings = chosen.settings(system)
    options: dict[str, Any] = {"http": http}
    if clock is not None:
        options["clock"] = clock
    with Leadscore.open(settings, **options) as app:
        if system is not None:
            # the others are synced by runs of their own: a difference there keeps a
            # person due, so that their run rescores and writes them
            app.job.elsewhere = frozenset(chosen.systems) - {system}
        summary = app.sync(SyncOptions(full=full, wait=wait))
    return summary.as_dict()
