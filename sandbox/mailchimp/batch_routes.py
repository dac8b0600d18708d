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

    A batch advances with the sandbox's clock, not with reads: it stays pending for
    `batch_start_delay` vendor seconds and until the batches before it finished, then
    runs `batch_pace` operations a second (through the same handlers as live calls, in
    order), then is finished. Batches
    are brought up to date before every request the sandbox serves, so what an
    operation did shows in live reads as soon as its time has come.
    """

    def _start_batch(self, request: Request) -> Response:
        body = json_body(request)
        problems = operation_problems(body.get("operations"))
        if problems:
            raise invalid(SCHEMA_DETAIL, problems)
        number = len(self.batches)
        batch = Batch(short_id("batch", self.list_id, number), body["operations"], self.now())
        batch.started = self.clock.now()
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
        return shaped(request, batch.to_json(self._results_url(batch)))

    def advance_batches(self) -> None:
        """Run what the clock allows of the unfinished batches (under the sandbox's lock),
        one batch at a time in the order they came, as Mailchimp runs them."""
        free = 0.0
        for batch in self.batches.values():
            if batch.status == "finished":
                free = max(free, batch.ended)
                continue
            begin = max(batch.started + self.batch_start_delay, free)
            running = self.clock.now() - begin
            if running < 0:
                return
            due = min(len(batch.operations), int(running * self.batch_pace + 1e-6))
            batch.status = "started"
            end = begin + len(batch.operations) / self.batch_pace
            self._run_operations(batch, due, float(int(self.epoch + end)))
            if batch.status != "finished":
                return
            batch.ended = free = end

    def finish_batch(self, batch: Batch) -> None:
        """Run a batch's remaining operations and keep their results archive."""
        self._run_operations(batch, len(batch.operations))

    def _run_operations(self, batch: Batch, due: int, completed: float | None = None) -> None:
        """Run the batch's operations up to `due`; once all ran, it finished at `completed`
        (Mailchimp's `completed_at`: when its last operation ran; now when not given)."""
        was, self.advancing = self.advancing, True  # operations pass through `_locked`
        try:
            for operation in batch.operations[len(batch.results) : due]:
                batch.results.append(self._run_operation(operation))
        finally:
            self.advancing = was
        if len(batch.results) == len(batch.operations):
            batch.status = "finished"
            batch.completed_at = self.now() if completed is None else completed
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
