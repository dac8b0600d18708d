"""What a run cut short (the day's budget, its deadline) commits of each system's
cursors, and what it says of a stream that cannot keep its place.

    stream pulled whole          -> its cursor (where the next pull starts)
    stream cut after some pages  -> the last stored page's `Page.resume`, where the
                                    stream's pages come in an order a cursor follows;
                                    none (the stored cursor stays) where it cannot
    `~fields`                    -> with the contacts stream's cursor, whole or resumed:
                                    the contacts read so far were read with these fields,
                                    and the resumed pull reads the rest with them
    `~activity-fields`           -> with any stream's cursor: the streams pulled whole
                                    as stored with the fields now kept, the others as
                                    under way, pulled on from their cursor and stored
                                    anew (`sync.minimise`); with none, as it was

A stream the deadline cuts that cannot resume starts again from its stored cursor on
every run; one that is cut so on two runs in a row may never finish under that
deadline, and the run says so, naming the stream and what to do: pull it once where
the run has no such limit (`leadscore sync --full` without `--max-seconds`, from a
machine against the same store).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from connectors.protocol import Connector
from sync.dues import FIELDS_CURSOR
from sync.minimise import KEPT_CURSOR, cut_marker
from sync.store import StateStore


def commit_cut(
    store: StateStore,
    connectors: Sequence[Connector],
    pending: Mapping[str, Mapping[str, str]],
    whole: Mapping[str, set[str]],
    resumes: Mapping[str, Mapping[str, str | None]],
    as_of: datetime,
) -> list[str]:
    """Commit, per system, what a cut run may (`cursors_to_commit`); the streams left
    where they were (`stuck_streams`)."""
    stuck: list[str] = []
    for connector in connectors:
        system, streams = connector.system, connector.streams
        done, points = whole.get(system, set()), resumes.get(system, {})
        store.commit_cursors(
            system, cursors_to_commit(streams, pending.get(system, {}), points, done), as_of
        )
        stuck += stuck_streams(system, streams, points, done)
    return stuck


def cursors_to_commit(
    streams: Sequence[str],
    pending: Mapping[str, str],
    resumes: Mapping[str, str | None],
    whole: set[str],
) -> dict[str, str]:
    """The cursors a cut run commits for one system (see the module); `streams` contacts
    first, `pending` the cursors after the pages stored, `resumes` each stream's last
    stored page's resume point."""
    cursors = {s: pending[s] for s in streams if s in whole and s in pending}
    for stream in streams:
        point = resumes.get(stream)
        if stream not in whole and point is not None:
            cursors[stream] = point
    contacts = streams[0]
    if FIELDS_CURSOR in pending and (contacts in cursors or contacts in whole):
        cursors[FIELDS_CURSOR] = pending[FIELDS_CURSOR]
    if KEPT_CURSOR in pending and any(stream in cursors for stream in streams):
        cursors[KEPT_CURSOR] = cut_marker(pending[KEPT_CURSOR], whole)
    return cursors


def stuck_streams(
    system: str, streams: Sequence[str], resumes: Mapping[str, str | None], whole: set[str]
) -> list[str]:
    """The streams of `system` a cut run leaves where they were ("hubspot deals"): not
    pulled whole, and without a resume point."""
    return [f"{system} {s}" for s in streams if s not in whole and resumes.get(s) is None]


LOOKED_BACK = 3
"""Finished runs whose stuck streams the warning reads."""


def stuck_warning(store: StateStore, stuck: Sequence[str]) -> str | None:
    """The warning for the streams this run left stuck that an earlier run (of the last
    `LOOKED_BACK`) left stuck too; None when there are none."""
    before: set[str] = set()
    for run in store.runs(LOOKED_BACK + 1):
        named = run.summary.get("stuck_streams") if isinstance(run.summary, dict) else None
        if isinstance(named, list):
            before.update(str(n) for n in named)
    again = [s for s in stuck if s in before]
    if not again:
        return None
    return (
        f"{', '.join(again)}: cut short by the deadline on more than one run and pulled "
        "from the same cursor each time (a pull of it cannot resume where it was cut); run "
        "`leadscore sync --full` once without --max-seconds (or with a longer deadline), "
        "from a container, a VM or a laptop against the same store"
    )
