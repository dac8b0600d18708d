"""Free ports on 127.0.0.1 for tests that choose the sandbox's ports."""

from __future__ import annotations

import os
import socket


def free_ports(count: int) -> int:
    """A base port with `count` free ports from it on (checked, then released), below
    Linux's ephemeral range so that no outgoing connection takes one in the meantime."""
    for attempt in range(2_000):
        base = 20_000 + (os.getpid() * 3 + attempt * 7) % 12_000
        probes = [socket.socket() for _ in range(count)]
        try:
            for offset, probe in enumerate(probes):
                probe.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no free ports")
