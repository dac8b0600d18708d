"""`leadscore sandbox` as a user runs it: ports, the `.env` lines it prints, Ctrl-C, and a
world on the real clock that a user's own `setup` and `sync --full` score as the demo does."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from hubspot import HubSpot
from rich.console import Console
from typer.testing import CliRunner

from scoring import parse_rules
from scoring.loader import default_rules_text
from sync.app import open_store
from sync.cli import app
from sync.demo import run_demo
from tests.sandbox.port_helpers import free_ports

ROOT = Path(__file__).parents[2]
runner = CliRunner()
WRITTEN = ("leadscore_score", "leadscore_grade", "leadscore_stage", "leadscore_disqualified")


# -- ports ----------------------------------------------------------------------------------


def test_the_command_says_a_port_is_taken_in_two_lines_and_exits_2() -> None:
    base = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base))
        taken.listen()
        result = runner.invoke(app, ["sandbox", "--people", "0", "--port", str(base)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: HubSpot cannot listen on port {base}: it is in use",
        "error: choose another --port, or leave it out for free ports",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "65534"], "error: --port: expected 1 to 65533, or 0 for free ports; got 65534"),
        (["--port", "-1"], "error: --port: expected 1 to 65533, or 0 for free ports; got -1"),
        (
            ["--real-clock", "--scale", "10"],
            "error: --real-clock runs vendor time at real speed: drop --scale 10",
        ),
    ],
)
def test_options_that_cannot_work_stop_before_the_world_is_built(
    args: list[str], message: str
) -> None:
    started = time.perf_counter()
    result = runner.invoke(app, ["sandbox", "--people", "100000", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message]
    assert max(map(len, result.stderr.splitlines())) <= 80
    assert time.perf_counter() - started < 2  # a world of 100,000 takes longer


# -- a user's own sync against the command, and the demo ---------------------------------------


def read_until(stream: IO[str], end: str, seconds: float) -> list[str]:
    """Lines of a running command's output up to the one starting with `end`."""
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if line.startswith(end):
            return lines
    raise AssertionError(f"no {end!r} in the output: {lines}")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """`leadscore sandbox --real-clock` in a process of its own, and the lines it printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="80")
    command = [sys.executable, "-m", "sync", "sandbox", "--people", "300", "--seed", "2"]
    command += ["--real-clock", "--port", str(free_ports(3))]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        # started with SIGINT ignored, as a script's background job is: Ctrl-C still stops it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert process.stdout is not None
        yield process, read_until(process.stdout, "Ctrl-C", 60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_users_sync_against_the_real_clock_sandbox_writes_what_the_demo_writes(
    served: tuple[subprocess.Popen[str], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    process, printed = served
    pasted = [line for line in printed if line.startswith("LEADSCORE_")]
    settings = dict(line.split("=", 1) for line in pasted)
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.chdir(user)
    for name in [k for k in os.environ if k.startswith("LEADSCORE_")]:
        monkeypatch.delenv(name)

    # as the printed steps say: init, the lines at the end of .env, setup, a full sync
    steps = [runner.invoke(app, ["init"])]
    with (user / ".env").open("a", encoding="utf-8") as env_file:
        env_file.write("\n".join(pasted) + "\n")
    steps += [runner.invoke(app, ["setup"]), runner.invoke(app, ["sync", "--full"])]
    hubspot = HubSpot(
        access_token=settings["LEADSCORE_HUBSPOT__ACCESS_TOKEN"],
        host=settings["LEADSCORE_HUBSPOT__HOST"],
    )
    contacts = hubspot.crm.contacts.get_all(properties=[*WRITTEN, "lifecyclestage"])
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)

    demo_store = tmp_path / "demo.db"
    rules = parse_rules(default_rules_text(), "default.yaml")
    screen = Console(file=io.StringIO(), width=120)
    both = ["hubspot", "mailchimp"]  # the systems the printed lines reach
    run_demo(screen, rules, people=300, seed=2, touched=0, state=demo_store, systems=both)
    demo = open_store(f"sqlite:///{demo_store}").written_values("hubspot")

    assert [step.exit_code for step in steps] == [0, 0, 0], [s.output for s in steps]
    assert sorted(settings) == [
        "LEADSCORE_HUBSPOT__ACCESS_TOKEN",
        "LEADSCORE_HUBSPOT__HOST",
        "LEADSCORE_HUBSPOT__LIFECYCLE_STAGES",
        "LEADSCORE_HUBSPOT__TIER",
        "LEADSCORE_MAILCHIMP__API_KEY",
        "LEADSCORE_MAILCHIMP__AUDIENCES",
        "LEADSCORE_MAILCHIMP__BASE_URL",
        "LEADSCORE_STATE_URL",
    ]
    assert (user / "leadscore-sandbox.db").exists()  # the store the lines name
    assert printed[-4:] == ["  leadscore setup", "  leadscore sync --full", "", "Ctrl-C to stop"]
    assert not any(line.startswith("note:") for line in printed)  # on the real clock already
    ours = {c.id: {k: c.properties.get(k) for k in WRITTEN} for c in contacts}
    theirs = {record: {k: values.get(k) for k in WRITTEN} for record, values in demo.items()}
    assert len(ours) == len(theirs) > 100
    assert ours == theirs  # every contact's score, grade, stage and flag, as the demo wrote
    grades = Counter(v["leadscore_grade"] for v in ours.values())
    stages = Counter(v["leadscore_stage"] for v in ours.values())
    assert len(grades) >= 3 and len(stages) >= 3  # not a world where everyone is alike
    lifecycle = Counter(c.properties.get("lifecyclestage") for c in contacts)
    assert lifecycle["marketingqualifiedlead"] + lifecycle["salesqualifiedlead"] > 0
    assert process.returncode == 0 and stdout.strip().endswith("stopped")
    assert "Traceback" not in stderr, stderr
