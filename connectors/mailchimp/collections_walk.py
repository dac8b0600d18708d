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

from collections.abc import Iterator
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
    api: MailchimpCalls, operation: str, collection: str, *args: Any, **filters: Any
) -> Iterator[list[Any]]:
    """Each page of `collection` that `operation(*args, **filters)` answers: its items, a
    list (empty when the answer holds none)."""
    offset = 0
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
