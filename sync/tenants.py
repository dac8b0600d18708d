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
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, NestedSecretsSettingsSource, PydanticBaseSettingsSource

from connectors.registry import SYSTEMS
from sync.errors import ConfigError, SyncError
from sync.settings import (
    PREFIX,
    Settings,
    credential_settings,
    secret_file_problem,
    secret_file_problems,
    settings_model,
)
from sync.tenants_file import (
    Reference,
    TenantEntry,
    TenantsFileError,
    read_entries,
)

log = logging.getLogger("leadscore.sync")

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

    def state_url(self) -> str | None:
        """The tenant's state URL before its schema is set: the file's (a reference read),
        else its secrets directory's `LEADSCORE_STATE_URL` file, else a SQLite file of its
        own; a relative SQLite file made absolute from the tenants file's folder. None where
        the file's reference cannot be read (`settings` says so)."""
        given = self.entry.values.get("state_url")
        if isinstance(given, Reference):
            given = given.read(self.file.parent)
            if given is None:
                return None
        url = given or self._secret_file(f"{PREFIX}STATE_URL")
        return anchored(
            str(url or DEFAULT_STATE_URL.replace("{tenant}", self.name)), self.file.parent
        )

    def settings(self, system: str | None = None) -> Settings:
        """The tenant's settings: its references read now, checked as the environment's
        are; `system` keeps that system's section alone (a run of one system). A
        `ConfigError` names the tenants file, the line and the field."""
        values = {k: v for k, v in self.entry.values.items() if k not in ("secrets_dir",)}
        schema = values.pop("state_schema", None)
        problems: list[str] = []
        resolved = self._resolved(values, (), problems)
        folder = self.secrets_dir
        if folder is not None:
            if not folder.is_dir():
                problems.append(self.entry.problem(("secrets_dir",), f"no directory {folder}"))
            else:
                found = secret_file_problems(folder)
                problems += [self.entry.problem(("secrets_dir",), p) for p in found]
        if problems:
            raise TenantsFileError(problems)
        resolved["rules"] = self.rules
        if "models" in resolved:
            resolved["models"] = self._models(resolved["models"])
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        url = self.state_url() or ""
        try:
            make_url(url)
        except ValueError:
            message = "cannot be read as a URL: its port must be a number"
            raise TenantsFileError(self.entry.problem(("state_url",), message)) from None
        except ArgumentError:
            pass  # said by the settings' own check of the URL
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
            model = _tenant_model()
            if folder is not None:
                settings: Settings = model(_secrets_dir=folder, **resolved)
            else:
                settings = model(**resolved)
        except ValidationError as exc:
            raise TenantsFileError(
                [self._problem(e) for e in exc.errors(include_url=False)]
            ) from None
        return settings if system is None else one_system(settings, system)

    def _models(self, value: Any) -> Any:
        """The `models` setting with each model's relative rule file read from the tenants
        file's folder, as `rules` is (never the working directory); as given where it is
        not a list (the settings' own check says what is wrong)."""
        from scoring import RuleFileError, plain_data

        data = value
        if isinstance(value, str):
            try:
                data, _ = plain_data(value, "models") if value.strip() else (None, {})
            except RuleFileError:
                return value
        if not isinstance(data, list):
            return value
        return [  # a list: the settings keep it as its JSON text
            {**m, "rules": str(self.file.parent / m["rules"])}
            if isinstance(m, dict) and isinstance(m.get("rules"), str)
            else m
            for m in data
        ]

    def missing_rules(self) -> list[str]:
        """A line naming the tenants file, line and field of each rule file (the tenant's
        own, its models') that is not there."""
        found = []
        if not self.rules.is_file():
            found.append(self.entry.problem(("rules",), f"no rule file {self.rules}"))
        models = self._models(self.entry.values.get("models", ""))
        for model in models if isinstance(models, list) else []:
            path = model.get("rules") if isinstance(model, dict) else None
            if isinstance(path, str) and not Path(path).is_file():
                message = f"model {model.get('name')}: no rule file {path}"
                found.append(self.entry.problem(("models",), message))
        return found

    def _secret_file(self, name: str) -> str | None:
        """A setting's file in the tenant's secrets directory, if there; an empty one, or
        one that is not UTF-8 text, a `TenantsFileError` naming it."""
        folder = self.secrets_dir
        if folder is None or not (folder / name).is_file():
            return None
        problem = secret_file_problem(folder / name)
        if problem is not None:
            raise TenantsFileError(self.entry.problem(("secrets_dir",), problem))
        return (folder / name).read_text("utf-8").strip()

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
                    what = "is not set" if value.kind == "env" else "is empty or cannot be read"
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


def anchored(url: str, folder: Path) -> str:
    """A SQLite URL whose file is named relative to the tenants file's folder, made absolute
    (as the rule file and file references are read): the same file from any directory."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return url
    path = url.removeprefix(prefix)
    if not path or path.startswith((":memory:", "file:", "/")):
        return url
    return prefix + str(folder / path)


def namespaced(url: str, schema: str) -> str:
    """The URL of a tenant's state: a PostgreSQL URL with `schema` as the search path of
    every connection (libpq's `options`, which psycopg and ADBC both pass on); any other
    URL as it is (a SQLite file is the tenant's by its `{tenant}`)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from sync.tenants_file import NAME, RESERVED

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return url  # said by the settings' own check of the URL
    if not parsed.drivername.startswith("postgresql"):
        return url
    if not NAME.match(schema) or schema.startswith(RESERVED):
        raise ValueError(
            "expected 1 to 40 lower-case letters, digits and underscores, starting with a "
            "letter, and not public, pg_... or information_schema (PostgreSQL's own)"
        )
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
    Two tenants whose state would be one are refused: they would share runs and locks.
    Their stores are compared as resolved (references and secrets directories read, SQLite
    paths made absolute, PostgreSQL by host, port, database and schema), not as written."""
    file = tenants_path(path)
    tenants = {e.name: Tenant(e) for e in read_entries(file)}
    seen: dict[tuple[str, ...], str] = {}
    problems = []
    for tenant in tenants.values():
        key = _store(tenant)
        if key is None:
            continue
        if key in seen:
            message = (
                f"tenants {seen[key]} and {tenant.name} would share one state store: put "
                "{tenant} in state_url (sqlite:///state/{tenant}.db), or give each its own "
                "state_schema"
            )
            problems.append(tenant.entry.problem((_state_field(tenant),), message))
        seen.setdefault(key, tenant.name)
    if problems:
        raise TenantsFileError(problems)
    return tenants


def _state_field(tenant: Tenant) -> str:
    """Where a tenant's state URL is given: `state_url`, or its secrets directory's file."""
    folder = tenant.secrets_dir
    if tenant.entry.values.get("state_url") is not None or folder is None:
        return "state_url"
    return "secrets_dir" if (folder / f"{PREFIX}STATE_URL").is_file() else "state_url"


def _store(tenant: Tenant) -> tuple[str, ...] | None:
    """What a tenant's state store is, whichever way its URL is written: a SQLite file by
    its resolved path, a PostgreSQL schema by host, port, database and schema; None where
    it cannot be told yet (a reference unread, an in-memory store: `settings` says)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = tenant.state_url()
    except TenantsFileError:
        return None
    if url is None:
        return None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return ("url", url)
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        return ("sqlite", str(Path(database).resolve()))
    if parsed.drivername.startswith("postgres"):
        schema = str(tenant.entry.values.get("state_schema") or tenant.name)
        database = parsed.database or parsed.username or ""
        host = (parsed.host or "localhost").lower()
        return ("postgresql", host, str(parsed.port or 5432), database, schema)
    return ("url", url)


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
    if not chosen.systems:
        names = ", ".join(e.name for e in SYSTEMS)
        raise ConfigError(
            f"tenant {name} configures no system: give it a section ({names}) with its "
            f"credentials in {chosen.file}"
        )
    settings = chosen.settings(system)
    missing = chosen.missing_rules()
    if missing:
        raise TenantsFileError(missing)
    options: dict[str, Any] = {"http": http}
    if clock is not None:
        options["clock"] = clock
    try:
        with Leadscore.open(settings, **options) as app:
            if system is not None:
                # the others are synced by runs of their own: a difference there keeps a
                # person due, so that their run rescores and writes them
                app.job.elsewhere = frozenset(chosen.systems) - {system}
            summary = app.sync(SyncOptions(full=full, wait=wait))
    except SyncError as exc:  # said with the tenant, for a scheduler running many
        exc.lines = [f"tenant {name}: {line}" for line in exc.lines]
        exc.args = ("; ".join(exc.lines),)
        raise
    which = {"tenant": name, "system": system or "all", "status": summary.status}
    log.info("tenant sync finished", extra=which)  # after the run's own summary record
    return summary.as_dict()
