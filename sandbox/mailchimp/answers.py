"""Successful answers: JSON, Mailchimp's 204, `fields` / `exclude_fields`, and paging."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.arguments import csv_arg, paging

JSON_TYPE = "application/json; charset=utf-8"


def ok(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return Response(status, body, {"Content-Type": JSON_TYPE})


def no_content() -> Response:
    """Mailchimp's 204: a JSON content type and no body (the SDK trips over it)."""
    return Response(204, b"", {"Content-Type": JSON_TYPE})


FieldTree = dict[str, "FieldTree"]


def field_tree(paths: Iterable[str]) -> FieldTree:
    tree: FieldTree = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def keep_fields(value: Any, tree: FieldTree) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [keep_fields(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: keep_fields(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def drop_fields(value: Any, tree: FieldTree) -> Any:
    if isinstance(value, list):
        return [drop_fields(item, tree) for item in value]
    if isinstance(value, dict):
        return {
            key: drop_fields(item, tree[key]) if key in tree else item
            for key, item in value.items()
            if key not in tree or tree[key]
        }
    return value


def shaped(request: Request, payload: dict[str, Any]) -> Response:
    """A 200 with `fields` kept and `exclude_fields` dropped, as the request asks."""
    fields, exclude = csv_arg(request, "fields"), csv_arg(request, "exclude_fields")
    if fields:
        payload = keep_fields(payload, field_tree(fields))
    if exclude:
        payload = drop_fields(payload, field_tree(exclude))
    return ok(payload)


def page(items: list[Any], request: Request) -> list[Any]:
    offset, count = paging(request)
    return items[offset : offset + count]


def item_keys(request: Request, items: str) -> set[str] | None:
    """The keys of each of `items` the request's `fields` keep (None: every key), so that
    what `shaped` would drop is not made."""
    tree = field_tree(csv_arg(request, "fields"))
    if not tree:
        return None
    if items not in tree:
        return set()
    return set(tree[items]) or None
