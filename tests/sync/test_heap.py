"""`keep_freed_memory`: after it, glibc gives a large block from its heap (not pages mapped
for it alone) and keeps it when freed, so that the next large block reuses its pages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _glibc() -> bool:
    try:  # musl has no such name: confstr raises
        return sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (OSError, ValueError):
        return False


GLIBC = _glibc()

PROBE = """
import ctypes, json, sys
from sync.heap import keep_freed_memory

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
took = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2()
block = bytearray(96 << 20)  # 96 MB: beyond any threshold glibc sets by itself
during = libc.mallinfo2()
del block
after = libc.mallinfo2()
mapped = during.hblkhd - before.hblkhd
print(json.dumps({"took": took, "mapped": mapped, "heap_after": after.arena}))
"""


def probe(mode: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.skipif(not GLIBC, reason="glibc's malloc only")
def test_a_large_block_comes_from_the_heap_and_stays_there_once_freed() -> None:
    plain, kept = probe("plain"), probe("keep")
    assert plain["mapped"] >= 96 << 20  # glibc's own choice: pages mapped for the block alone
    assert kept["took"] is True
    assert kept["mapped"] == 0
    assert kept["heap_after"] >= 96 << 20  # freed, yet still the heap's for the next block


@pytest.mark.parametrize("command", [False, True])
def test_score_keeps_freed_memory_only_as_the_leadscore_command(
    command: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in a process of its own (a test, a scheduler's task), `score` leaves the
    allocator as the process has it."""
    from typer.testing import CliRunner

    import sync.entry
    import sync.heap
    from sync.cli import app

    calls: list[bool] = []
    monkeypatch.setattr(sync.heap, "keep_freed_memory", lambda: calls.append(True) or True)
    monkeypatch.setattr(sync.entry, "_command", command)
    contacts = tmp_path / "c.csv"
    contacts.write_text("id,email\n1,a@acme.io\n", "utf-8")
    rules = tmp_path / "r.yaml"
    rules.write_text("rules:\n  - id: any\n    contact: {email: {contains: acme}}\n"
                     "    points: 5\n", "utf-8")  # fmt: skip
    result = CliRunner().invoke(app, ["score", "--rules", str(rules), "--contacts", str(contacts)])
    assert result.exit_code == 0, result.output
    assert calls == ([True] if command else [])


@pytest.mark.parametrize("kept", [False, True])
def test_small_pages_only_where_the_allocator_keeps_freed_memory(
    kept: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`small_pages` turns numpy's huge pages off for its duration, and back as they
    were, in a process `keep_freed_memory` set only; elsewhere it changes nothing."""
    import numpy as np

    import sync.heap

    toggle = np._core.multiarray._set_madvise_hugepage
    before = bool(toggle(True))
    monkeypatch.setattr(sync.heap, "_kept", kept)
    try:
        with sync.heap.small_pages():
            inside = bool(toggle(False))
            toggle(inside)
        assert inside is (not kept)
        assert bool(toggle(True)) is True  # as it was before
    finally:
        toggle(before)
