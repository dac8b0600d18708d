"""Walking a vendor's pages, and cursors as JSON text: one way for every connector.

for page in follow(lambda token: fetch_page(after=token)):   # until no next token
    ...
cursor = dump_cursor(after="123")   ->  '{"after": "123"}'
load_cursor(cursor)                 ->  {"after": "123"}   ({} for None)
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

Item = TypeVar("Item")
Token = TypeVar("Token")


def follow(
    fetch: Callable[[Token | None], tuple[Item, Token | None]], start: Token | None = None
) -> Iterator[Item]:
    """Each page `fetch(token)` answers, from `start`, until it gives no next token."""
    token = start
    while True:
        item, token = fetch(token)
        yield item
        if token is None:
            return


def load_cursor(text: str | None) -> dict[str, Any]:
    """A stored cursor's values; an empty dict when there is none (pull everything)."""
    if not text:
        return {}
    values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"a cursor is a JSON object, not {type(values).__name__}")
    return values


def dump_cursor(**values: Any) -> str | None:
    """The cursor text of `values`; None when every value is None (nothing to resume from)."""
    kept = {k: v for k, v in values.items() if v is not None}
    return json.dumps(kept, sort_keys=True) if kept else None
