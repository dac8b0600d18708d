"""Pages stored together in one transaction leave the store exactly as the same pages
stored one by one: the rows of every table, person ids included, save how many times a
person was marked due (once per transaction, `sync.dues.Marks`). The pages are a
Mailchimp sandbox's pull (members with archived ones withdrawing their activity, campaign
activity, orders), some pulled twice, some of them revisable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.mailchimp.connector import MailchimpConnector
from connectors.protocol import Page
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.generate import generate_world
from sync import StateStore


@pytest.fixture(scope="module")
def pages() -> list[Page]:
    """Every page of a full pull of each stream, streams interleaved page by page."""
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(500)) as box:
        connector = MailchimpConnector(
            api_key=box.api_key, base_url=box.base_url, clock=box.clock, seed=0
        )
        pulled = {stream: list(connector.pull(stream, None)) for stream in connector.streams}
    mixed: list[Page] = []
    for n in range(max(map(len, pulled.values()))):
        mixed += [found[n] for found in pulled.values() if n < len(found)]
    assert any(page.withdrawn for page in mixed) and sum(bool(p.activities) for p in mixed) > 3
    return mixed


def again_revisable(pages: Sequence[Page]) -> list[Page]:
    """The pages, then each with activity once more, its activities revisable and a third
    of them moved an hour later (a revision that changes them)."""
    later: list[Page] = []
    for page in pages:
        if page.activities:
            revised = [
                replace(a, revisable=True, occurred_at=a.occurred_at.replace(minute=59))
                if n % 3 == 0
                else replace(a, revisable=True)
                for n, a in enumerate(page.activities)
            ]
            later.append(replace(page, activities=revised, withdrawn=()))
    return [*pages, *later]


def stored(path: Path, pages: Sequence[Page], size: int) -> dict[str, list[Any]]:
    """Every table's rows, sorted, after storing the pages `size` to a transaction, and
    the counts of each page (`counts`)."""
    store = StateStore(f"sqlite:///{path}")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    counts: list[Any] = []
    for start in range(0, len(pages), size):
        group = pages[start : start + size]
        found = [(p.contacts, p.activities) for p in group]
        counts += store.save_pages("mailchimp", found, at, withdrawn=[p.withdrawn for p in group])
    with store.engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        rows = {
            t: sorted(map(repr, connection.exec_driver_sql(f"SELECT * FROM {t}"))) for t in tables
        }
        # marked once per transaction: the count is the grouping's, not what was stored
        rows["persons"] = sorted(
            map(repr, connection.exec_driver_sql("SELECT id, email, due FROM persons"))
        )
    store.close()
    return {**rows, "counts": counts}


def groups_of(pages: Sequence[Page]) -> Iterator[int]:
    yield from (2, 7, len(pages))


@pytest.mark.parametrize("revisions", [False, True])
def test_pages_stored_together_leave_the_store_as_one_by_one(
    pages: list[Page], revisions: bool, tmp_path: Path
) -> None:
    # each page with activity twice: the second time, plain ones are seen and not new
    pulled = again_revisable(pages) if revisions else [*pages, *(p for p in pages if p.activities)]
    one_by_one = stored(tmp_path / "one.db", pulled, 1)
    assert one_by_one["activities"] and one_by_one["persons"]
    assert any(new for _, new, _ in one_by_one["counts"])
    for size in groups_of(pulled):
        assert stored(tmp_path / f"by{size}.db", pulled, size) == one_by_one
