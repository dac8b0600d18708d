"""Routes for the batch endpoint, and the archive of a finished batch's results."""

from __future__ import annotations

from typing import Any

from sandbox.http import ErrorAnswer, Request, Response
from sandbox.mailchimp.answers import ok, page, shaped
from sandbox.mailchimp.arguments import json_body, path_param
from sandbox.mailchimp.batches import (
    Batch,
    operation_problems,
    operation_request,
    results_archive,
)
from sandbox.mailchimp.problems import (
    INTERNAL_ERROR,
    SCHEMA_DETAIL,
    invalid,
    method_not_allowed,
    not_found,
    problem,
)
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import short_id


class BatchRoutes(MailchimpState):
    """POST and GET /batches, GET /batches/{batch_id}, GET /batch-results/{name} (no auth).

    A batch's operations run when it finishes, through the same handlers as live calls.
    """

    def _start_batch(self, request: Request) -> Response:
        body = json_body(request)
        problems = operation_problems(body.get("operations"))
        if problems:
            raise invalid(SCHEMA_DETAIL, problems)
        number = len(self.batches)
        batch = Batch(short_id("batch", self.list_id, number), body["operations"], self.now())
        self.batches[batch.id] = batch
        return ok(batch.to_json(""))

    def _list_batches(self, request: Request) -> Response:
        batches = list(self.batches.values())
        items = [b.to_json(self._results_url(b)) for b in page(batches, request)]
        return shaped(request, {"batches": items, "total_items": len(batches)})

    def _batch_status(self, request: Request) -> Response:
        batch = self.batches.get(path_param(request, "batch_id"))
        if batch is None:
            raise not_found()
        batch.reads += 1
        if batch.status != "finished":
            if batch.reads >= self.batch_polls:
                self.finish_batch(batch)
            else:
                batch.status = "started"
        return shaped(request, batch.to_json(self._results_url(batch)))

    def finish_batch(self, batch: Batch) -> None:
        """Run a batch's operations and keep their results archive."""
        batch.results = [self._run_operation(op) for op in batch.operations]
        batch.status, batch.completed_at = "finished", self.now()
        batch.archive = results_archive(batch.id, batch.results, batch.completed_at)

    def _run_operation(self, operation: dict[str, Any]) -> dict[str, Any]:
        """One batch operation through the live handlers; `record_failure` fails some."""
        response = self._dispatch(operation_request(operation))
        return {
            "status_code": response.status,
            "operation_id": operation.get("operation_id"),
            "response": response.body.decode() or "{}",
        }

    def _dispatch(self, request: Request) -> Response:
        if self.faults.record_fails():
            return problem(500, "Internal Server Error", INTERNAL_ERROR)
        route, params = self.match(request.method, request.path)
        if route is None:
            return method_not_allowed() if params else not_found().response
        request.params, request.operation = params, route.operation
        try:
            return route.handler(request)
        except ErrorAnswer as refused:
            return refused.response

    def _results_url(self, batch: Batch) -> str:
        return f"{self.base_url}/batch-results/{batch.id}.tar.gz" if batch.archive else ""

    def _results(self, request: Request) -> Response:
        name = path_param(request, "name")
        batch = self.batches.get(name.removesuffix(".tar.gz"))
        if batch is None or not batch.archive or not name.endswith(".tar.gz"):
            return Response(404, b"NoSuchKey", {"Content-Type": "application/xml"})
        return Response(200, batch.archive, {"Content-Type": "application/x-gzip"})
