"""Walking pages and keeping cursors, and HubSpot's email event offsets walked with them."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.errors import RejectedError
from connectors.hubspot.pull import event_pages
from connectors.paging import dump_cursor, follow, load_cursor


def test_follow_walks_until_no_next_token() -> None:
    pages = {None: ("a", 1), 1: ("b", 2), 2: ("c", None)}

    assert list(follow(lambda token: pages[token])) == ["a", "b", "c"]


def test_a_cursor_is_json_text_and_none_when_there_is_nothing_to_resume_from() -> None:
    assert dump_cursor(after="123") == '{"after": "123"}'
    assert dump_cursor(after=None) is None
    assert load_cursor(None) == {} and load_cursor('{"after": "123"}') == {"after": "123"}
    with pytest.raises(ValueError, match="JSON object"):
        load_cursor("[1]")


class Events:
    """A fake email events API answering pages from a script of offsets."""

    def __init__(self, offsets: list[str | None]) -> None:
        self.offsets = offsets
        self.asked: list[dict[str, Any]] = []

    def email_events(self, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(params)
        following = self.offsets[len(self.asked) - 1]
        return {"events": [], "hasMore": following is not None, "offset": following}


def test_email_event_pages_follow_offsets_to_the_end() -> None:
    api = Events(["a", "b", None])

    pages = list(event_pages(api, {"limit": 1000}))  # type: ignore[arg-type]

    assert len(pages) == 3
    assert [p.get("offset") for p in api.asked] == [None, "a", "b"]


def test_an_offset_that_comes_back_stops_the_walk_instead_of_looping() -> None:
    api = Events(["a", "b", "a", "b", None])

    with pytest.raises(RejectedError, match="came back"):
        list(event_pages(api, {"limit": 1000}))  # type: ignore[arg-type]

    assert len(api.asked) == 3
