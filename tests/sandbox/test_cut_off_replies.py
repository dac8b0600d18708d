"""Truncated and lost replies: the request is carried out, its answer is cut off or lost."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from sandbox import FaultPlan, Sandbox
from sandbox.http import Request, Response

SYSTEMS = ("hubspot", "salesforce", "mailchimp")


def send(base_url: str, token: str) -> tuple[int, bytes]:
    """One POST on a fresh connection; the status and the whole body, or http.client's error."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("POST", "/faulty/mark", b"{}", {"Authorization": f"Bearer {token}"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize(
    ("plan", "error"),
    [
        (FaultPlan(truncated=1.0), http.client.IncompleteRead),
        (FaultPlan(lost=1.0), http.client.RemoteDisconnected),
    ],
    ids=["truncated", "lost"],
)
def test_each_emulator_carries_out_the_request_then_cuts_off_or_loses_the_answer(
    system: str, plan: FaultPlan, error: type[Exception]
) -> None:
    landed: list[str] = []

    def mark(request: Request) -> Response:
        landed.append(request.operation)
        return Response.json({"marked": "x" * 200})

    with Sandbox(people=3, seed=1, faults={system: plan}) as box:
        emulator = box.emulators[system]
        emulator.route("POST", "/faulty/mark", "faulty.mark", mark)
        # Salesforce asks for no session outside its data API.
        token = box.mailchimp.api_key if system == "mailchimp" else box.hubspot.token
        with pytest.raises(error):
            send(emulator.base_url, token)
        emulator.faults = FaultPlan()
        status, body = send(emulator.base_url, token)

    assert landed == ["faulty.mark", "faulty.mark"]  # the cut-off request was carried out
    assert status == 200 and body.startswith(b'{"marked":')


def test_truncated_and_lost_replies_are_drawn_from_the_seeded_plan() -> None:
    def draws(seed: int) -> list[str]:
        plan = FaultPlan(truncated=0.3, lost=0.3, seed=seed)
        faults = [plan.draw("any") for _ in range(40)]
        return [
            "truncated" if f and f.truncate else "lost" if f and f.lost else "-" for f in faults
        ]

    first = draws(4)

    assert first == draws(4) != draws(5)
    assert {"truncated", "lost", "-"} == set(first)
