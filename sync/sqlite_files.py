"""The SQLite file of a state store: how its connections are set up, whether this process
created it, and removing one that was never filled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine


def sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL lets `leadscore status` read while a sync writes; NORMAL is durable at each commit in WAL.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # 64 MiB of page cache rather than SQLite's 2 MiB: a full pull's inserts land all over
    # the activity indexes, and a page not in the cache is read from the file again (about
    # a tenth of storing's CPU at 480,000 activities); taken only as pages are read.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def new_sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite store that does not exist yet (None: in memory, another
    database, or a file already there)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database)
    return None if path.exists() else path


def remove_sqlite_file(path: Path) -> None:
    """The database file and the journal files SQLite keeps beside it."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
