"""Walking one of Mailchimp's collections page by page, as every pull here does.

    operation = "reports.get_unsubscribed_list_for_campaign"
    for records in walk_collection(api, operation, "unsubscribes", campaign_id):
        ...

Mailchimp pages every collection by `count` (at most 1,000) and `offset`, and answers
with the page's items under the collection's name and `total_items`
(https://mailchimp.com/developer/marketing/docs/methods-parameters/#pagination, as the
SDK's docstrings cite it). A walk stops at an empty page or once `offset` reaches
`total_items`; where `total_items` is missing or not a count, the walk goes on until a
short page (fewer items than asked).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, Protocol

from connectors.values import finite_number

PAGE_COUNT = 1000
"""Records per call: the most Mailchimp gives."""
OVERLAP = timedelta(minutes=10)
"""How far before its cursor an incremental pull starts again: Mailchimp does not say
whether a `since` bound is included, and its times have one-second precision; what is
read twice is given once."""


class MailchimpCalls(Protocol):
    """What the pulls need of the Mailchimp client: one SDK operation by its dotted name,
    answering the checked JSON as a dict (`connectors.mailchimp.client.MailchimpApi`)."""

    def call(self, operation: str, *args: Any, **kwargs: Any) -> dict[str, Any]: ...


def walk_collection(
    api: MailchimpCalls,
    operation: str,
    collection: str,
    *args: Any,
    start: int = 0,
    **filters: Any,
) -> Iterator[list[Any]]:
    """Each page of `collection` that `operation(*args, **filters)` answers from offset
    `start`: its items, a list (empty when the answer holds none)."""
    offset = start
    while True:
        answer = api.call(operation, *args, count=PAGE_COUNT, offset=offset, **filters)
        items = answer.get(collection)
        items = items if isinstance(items, list) else []
        yield items
        offset += len(items)
        total = finite_number(answer.get("total_items"))
        if total is None or total < 0:  # not a count: a short page is the last
            if len(items) < PAGE_COUNT:
                return
        elif not items or offset >= total:
            return


def walk_side_by_side(
    api: MailchimpCalls, operation: str, collection: str, *args: Any, **filters: Any
) -> Iterator[list[Any]]:
    """As `walk_collection`, the pages after the first read side by side (`in_order`, as
    many at a time as the connection gate lets through) and handed over in offset order:
    the first page's `total_items` says which offsets there are, and a later answer's,
    when the collection grew meanwhile, adds the pages it grew by. A first answer without
    a count is walked on page by page. A long report read page after page took a
    connection for its whole length, and the pull's last reports ran on fewer than ten."""
    from connectors.mailchimp.in_order import in_order

    answer = api.call(operation, *args, count=PAGE_COUNT, offset=0, **filters)
    items = answer.get(collection)
    items = items if isinstance(items, list) else []
    yield items
    total = finite_number(answer.get("total_items"))
    if total is None or total < 0:
        if len(items) >= PAGE_COUNT:
            yield from walk_collection(
                api, operation, collection, *args, start=len(items), **filters
            )
        return

    def page(offset: int) -> Callable[[], dict[str, Any]]:
        return lambda: api.call(operation, *args, count=PAGE_COUNT, offset=offset, **filters)

    start, end = len(items), math.ceil(total)
    while items and start < end:
        offsets = range(start, end, PAGE_COUNT)
        answers = in_order(page(at) for at in offsets)
        try:
            for offset, answer in zip(offsets, answers, strict=True):
                items = answer.get(collection)
                items = items if isinstance(items, list) else []
                yield items
                if not items:  # past the end: the pages after hold none either
                    return
                grown = finite_number(answer.get("total_items"))
                if grown is not None and grown > end:
                    end = math.ceil(grown)
                start = offset + len(items)
                if len(items) < PAGE_COUNT and start < end:  # short before the end: on
                    break  # from there page by page, as `walk_collection` reads
            else:
                continue
        finally:
            answers.close()  # the pages read ahead and not wanted: cancelled or waited for
        yield from walk_collection(api, operation, collection, *args, start=start, **filters)
        return
