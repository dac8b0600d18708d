"""A real PostgreSQL server for the state store's tests, started once per session where installed;
and `store`, a SQLite state store in the test's folder.

The server runs from a temporary directory, listens only on a Unix socket there (no TCP), and
skips fsync; as root it runs as the `postgres` user, since PostgreSQL refuses to run as root.
Each test that asks for `postgres_url` gets a database of its own. Where PostgreSQL or psycopg
is missing, or the server does not start, those tests are skipped with the reason.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sync.store import StateStore

try:
    import psycopg
except ImportError:  # the tests that need it are skipped
    psycopg = None  # type: ignore[assignment]

START_TIMEOUT = 20  # seconds; a healthy server is up in well under one


@dataclass(frozen=True)
class PostgresServer:
    socket_dir: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def admin(self) -> psycopg.Connection[tuple[Any, ...]]:
        """A connection to the `postgres` database in autocommit, for CREATE and DROP DATABASE."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
        )


def _bin_dir() -> Path | None:
    """A directory with initdb, pg_ctl and postgres: from PATH, else the newest Debian layout."""
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versions = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(p) for p in versions),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _free_port() -> int:
    # Only the socket file's name uses the number, but a free one avoids any clash.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    if psycopg is None:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]>=3.2')")
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (no initdb, pg_ctl and postgres found)")
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no `postgres` user to run PostgreSQL as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing to run PostgreSQL as postgres")

    root = Path(tempfile.mkdtemp(prefix="leadscore-pg-"))
    if os.geteuid() == 0:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    options = f"-c listen_addresses='' -k {root} -p {port} -c fsync=off -c max_connections=200"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data)]
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    initdb += ["-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"]
    start = [*pg_ctl, "-l", str(log), "-o", options, "-w", "-t", str(START_TIMEOUT), "start"]
    try:
        _run_or_skip(initdb, log)
        _run_or_skip(start, log)
        yield PostgresServer(root, port)
    finally:
        if (data / "postmaster.pid").exists():
            stop = [*pg_ctl, "-m", "fast", "-w", "stop"]
            subprocess.run(_as_server_user(stop), capture_output=True, timeout=60, check=False)
        shutil.rmtree(root, ignore_errors=True)


def _run_or_skip(command: list[str], log: Path) -> None:
    name = Path(command[0]).name
    try:
        done = subprocess.run(
            _as_server_user(command),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT + 10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"PostgreSQL did not start: {name}: {error}")
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()[-1500:]
        server_log = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        pytest.skip(
            f"PostgreSQL did not start: {name} exited {done.returncode}: {output} {server_log}"
        )


_databases = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A SQLAlchemy URL to a new, empty database on the session's server, dropped afterwards."""
    name = f"leadscore_test_{os.getpid()}_{next(_databases)}"
    with postgres_server.admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with postgres_server.admin() as admin:
        # FORCE ends the connections a test left open in its engine's pool.
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    state = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield state
    state.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state store's URL on SQLite, then on a real PostgreSQL server (skipped where none
    runs)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def either_store(url: str) -> Iterator[StateStore]:
    """A state store on SQLite, then on PostgreSQL (`url`)."""
    state = StateStore(url)
    yield state
    state.close()
