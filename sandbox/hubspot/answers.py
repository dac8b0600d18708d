"""Successful answers: a page of a list with its next link, and batch answers (200 or 207)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from sandbox.http import Request, Response
from sandbox.hubspot.values import Json


def list_answer(
    request: Request,
    base_url: str,
    results: list[Json],
    page: range,
    size: int,
    token: Callable[[int], str],
) -> Response:
    """One page of a list; `paging.next.after` is an opaque token for the next row, if any."""
    body: Json = {"results": results}
    if page.start < page.stop < size:
        after = token(page.stop)
        link = f"{base_url}{request.path}?after={quote(after)}"
        body["paging"] = {"next": {"after": after, "link": link}}
    return Response.json(body)


def batch_answer(
    results: list[Json], errors: list[Json], stamp: str, partial: bool = False
) -> Response:
    """200 when every input succeeded, else (some error, or `partial`: some input left
    out of `results` unnamed) 207 with `errors` and `numErrors`."""
    body: Json = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": stamp,
        "completedAt": stamp,
    }
    if not errors and not partial:
        return Response.json(body)
    return Response.json({**body, "numErrors": len(errors), "errors": errors}, 207)
