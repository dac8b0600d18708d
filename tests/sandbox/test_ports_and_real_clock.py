"""The sandbox on ports chosen by its user, and its world on the real clock."""

from __future__ import annotations

import socket
import time

import pytest

from sandbox import PortUnavailable, Sandbox
from sandbox.world.generate import generate_world
from tests.sandbox.port_helpers import free_ports


def test_the_sandbox_listens_from_the_base_port_in_vendor_order() -> None:
    base = free_ports(3)
    box = Sandbox().start(base)
    try:
        urls = [e.base_url for e in box.emulators.values()]
    finally:
        box.stop()
    assert urls == [f"http://127.0.0.1:{base + i}" for i in range(3)]


def test_a_taken_port_names_the_emulator_and_stops_those_already_started() -> None:
    base = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        box = Sandbox()
        with pytest.raises(PortUnavailable) as caught:
            box.start(base)
    assert (caught.value.system, caught.value.port) == ("salesforce", base + 1)
    assert (
        str(caught.value.strerror) == f"Salesforce cannot listen on port {base + 1}: it is in use"
    )
    with socket.socket() as again:  # HubSpot let its port go
        again.bind(("127.0.0.1", base))


def test_a_moved_world_keeps_every_age_and_ends_at_the_new_now() -> None:
    world = generate_world(120, seed=3)
    moved = world.moved(world.now + 12_345.5)

    assert moved.now == world.now + 12_345.5
    assert (world.now - world.events.at == moved.now - moved.events.at).all()
    assert (world.now - world.people.created_at == moved.now - moved.people.created_at).all()
    assert (world.now - world.campaigns.sent_at == moved.now - moved.campaigns.sent_at).all()
    converted = world.people.converted
    ages = world.now - world.people.converted_at[converted]
    assert (ages == moved.now - moved.people.converted_at[converted]).all()
    assert (moved.events.type == world.events.type).all()  # the same world, only moved


def test_on_the_real_clock_the_sandbox_now_is_the_machine_clock() -> None:
    box = Sandbox(people=50, seed=1, real_clock=True)
    fixed = Sandbox(people=50, seed=1)
    assert abs(box.now().timestamp() - time.time()) < 1
    assert abs(fixed.now().timestamp() - fixed.world.now) < 1  # type: ignore[union-attr]
    assert abs(Sandbox(real_clock=True).now().timestamp() - time.time()) < 1  # empty world
    with pytest.raises(ValueError, match="scale 1"):
        Sandbox(real_clock=True, scale=10)
