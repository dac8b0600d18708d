"""Batch operations: the batch record, checks of its operations, and its results archive."""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.http import Request
from sandbox.mailchimp.problems import json_kind
from sandbox.mailchimp.values import API_ROOT, iso

RESULTS_PER_FILE = 500
BATCH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Batch:
    id: str
    operations: list[dict[str, Any]]
    submitted_at: float
    started: float = 0.0
    """The sandbox clock's vendor seconds when it was submitted (its pace is measured from)."""
    ended: float = 0.0
    """The clock's vendor seconds when its last operation was due (once finished)."""
    status: str = "pending"
    results: list[dict[str, Any]] = field(default_factory=list)
    completed_at: float | None = None
    archive: bytes = b""

    def to_json(self, results_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "total_operations": len(self.operations),
            "finished_operations": len(self.results),
            "errored_operations": sum(1 for r in self.results if r["status_code"] >= 400),
            "submitted_at": iso(self.submitted_at),
            "completed_at": iso(self.completed_at) if self.completed_at is not None else "",
            "response_body_url": results_url,
        }


def operation_problems(operations: Any) -> list[dict[str, str]]:
    """Schema errors of a batch's operations, in Mailchimp's `errors` form."""
    if not isinstance(operations, list):
        message = f"Schema describes array, {json_kind(operations)} found instead"
        return [{"field": "operations", "message": message}]
    problems = []
    for n, op in enumerate(operations):
        where = f"operations.item:{n}"
        if not isinstance(op, dict):
            message = f"Schema describes object, {json_kind(op)} found instead"
            problems.append({"field": where, "message": message})
        elif op.get("method") not in BATCH_METHODS:
            message = "Data presented is not one of the accepted values: " + ", ".join(
                BATCH_METHODS
            )
            problems.append({"field": f"{where}.method", "message": message})
        elif not isinstance(op.get("path"), str) or not op["path"]:
            problems.append(
                {"field": f"{where}.path", "message": "This value should not be blank."}
            )
        elif not isinstance(op.get("body", ""), str):
            message = f"Schema describes string, {json_kind(op['body'])} found instead"
            problems.append({"field": f"{where}.body", "message": message})
    return problems


def results_archive(batch_id: str, results: list[dict[str, Any]], at: float) -> bytes:
    """The tar.gz behind `response_body_url`: JSON arrays of up to 500 results each."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for number, start in enumerate(range(0, max(len(results), 1), RESULTS_PER_FILE)):
            data = json.dumps(results[start : start + RESULTS_PER_FILE]).encode()
            info = tarfile.TarInfo(f"{batch_id}/{number}.json")
            info.size, info.mtime = len(data), int(at)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def operation_request(operation: dict[str, Any]) -> Request:
    """The request a batch operation stands for (its path is relative to /3.0)."""
    parts = urlsplit(str(operation["path"]))
    path = parts.path if parts.path.startswith(API_ROOT + "/") else API_ROOT + parts.path
    query = parse_qs(parts.query)
    for name, value in (operation.get("params") or {}).items():
        query[str(name)] = [str(value)]
    body = str(operation.get("body") or "").encode()
    return Request(str(operation["method"]), path, query, {}, body)
