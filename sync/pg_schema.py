"""A tenant's PostgreSQL schema: named by the `search_path` of its state URL's `options`
(`sync.tenants.namespaced`), made when the store first opens there."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.engine import Engine

SEARCH_PATH = re.compile(r"-c\s*search_path=([a-z][a-z0-9_]{0,39})(?:\s|$)")
"""A search path of one schema a tenant may be named (`sync.tenants_file.NAME`)."""


def schema_of(engine: Engine) -> str | None:
    """The schema a PostgreSQL store's connections have as their search path, if one."""
    if engine.dialect.name != "postgresql":
        return None
    found = SEARCH_PATH.search(str(engine.url.query.get("options") or ""))
    return None if found is None else found.group(1)


def ensure_schema(engine: Engine) -> None:
    """Create the store's schema where its URL names one that is not there yet (two
    processes opening a new tenant at once: the loser finds it made)."""
    schema = schema_of(engine)
    if schema is None or schema_made(engine, schema):
        return
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except sa.exc.IntegrityError:
        pass  # made by another process in the meantime


def schema_made(engine: Engine, schema: str) -> bool:
    """Whether the database has the schema (`leadscore tenants` makes none to say so)."""
    with engine.connect() as connection:
        query = sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :name")
        return connection.execute(query, {"name": schema}).first() is not None
