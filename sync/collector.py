"""Python's cyclic garbage collector, held to fewer passes while leadscore makes objects in
bulk: a sync run (pulled pages into records, rows and back), the demo.

By default CPython starts a young collection every 700 new container objects, and each
pass promotes what is still alive; a pull keeps tens of thousands of records in flight (the
pages read ahead, the group being stored), so they are promoted, and the full passes then
walk every object the process holds, again and again. Measured on the Mailchimp pull of
50,000 members and 1.1 million activities (`bench/mailchimp_sync.py`): 25 s of the sync
process's CPU with the default thresholds, 16 to 18 s with `COLLECTOR_THRESHOLDS`, and
the fetch threads, which share the interpreter with the collector, held each connection
less long.
The demo spent 3.6 s of its CPU in full passes before it held them.

`fewer_collections()` sets `COLLECTOR_THRESHOLDS` and leaves the objects made before it
out of the passes (`gc.freeze`), for as long as the block runs; when the last block open
in the process ends (blocks may nest, and runs in threads of one process may overlap) it
puts the thresholds back and lets those objects into the passes again. Where something else
froze objects already (a serverless instance's `sync.entry.warmed`, a host that froze
before forking its workers), they stay frozen: the block neither freezes nor unfreezes.
Where automatic collection is off (`gc.disable()`, or a first threshold of 0), it stays
off. Reference counting still frees everything that is not in a cycle at once: only
cyclic garbage waits a little longer.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

COLLECTOR_THRESHOLDS = (10_000, 10, 10)
"""A young collection per 10,000 new container objects, not 700 (the older generations'
thresholds as CPython's)."""

_lock = threading.Lock()
_open = 0
_before: tuple[int, int, int] = gc.get_threshold()
_froze = False


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within the block (and any other open beside it), the collector's
    `COLLECTOR_THRESHOLDS`, and the objects made before the first block opened left out
    of its passes."""
    global _open, _before, _froze
    with _lock:
        if _open == 0:
            _before = gc.get_threshold()
            if _before[0] > 0:  # 0: automatic collection turned off
                gc.set_threshold(*COLLECTOR_THRESHOLDS)
            _froze = gc.get_freeze_count() == 0  # frozen by another: theirs to keep
            if _froze:
                gc.freeze()
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0:
                if _froze:
                    gc.unfreeze()
                gc.set_threshold(*_before)
