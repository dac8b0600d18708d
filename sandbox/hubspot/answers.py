"""Successful answers: a page of a list with its next link, and batch answers (200 or 207)."""

from __future__ import annotations

from sandbox.http import Request, Response
from sandbox.hubspot.values import Json


def list_answer(
    request: Request, base_url: str, results: list[Json], page: range, size: int
) -> Response:
    """One page of a list; `paging.next` names the id of the next record, if any."""
    body: Json = {"results": results}
    if page.start < page.stop < size:
        link = f"{base_url}{request.path}?after={page.stop + 1}"
        body["paging"] = {"next": {"after": str(page.stop + 1), "link": link}}
    return Response.json(body)


def batch_answer(results: list[Json], errors: list[Json], stamp: str) -> Response:
    """200 when every input succeeded, else 207 with `errors` and `numErrors`."""
    body: Json = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": stamp,
        "completedAt": stamp,
    }
    if not errors:
        return Response.json(body)
    return Response.json({**body, "numErrors": len(errors), "errors": errors}, 207)
