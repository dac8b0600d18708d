"""Local emulators of the HubSpot, Salesforce and Mailchimp APIs over one synthetic world.

Each emulator is a real HTTP server on 127.0.0.1 that the vendor's own SDK
talks to unchanged apart from its host. They carry the demo, the integration
tests and the benchmarks:

    with Sandbox(people=500, seed=1) as sandbox:
        hubspot = HubSpot(access_token=sandbox.hubspot.token, host=sandbox.hubspot.base_url)

`leadscore sandbox` serves the same from the command line.

By default the world ends at a fixed moment (`sandbox.world.generate.DEFAULT_NOW`)
and `Sandbox.now()` runs on from there. With `real_clock=True` the same world is
moved in time to end at the machine's present, so `Sandbox.now()` is the
machine's clock and a sync that reads the machine's clock scores it as the demo
scores the fixed one (the demo passes `Sandbox.now` as its clock).
"""

from __future__ import annotations

import errno
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.world.tables import World, WorldBuilder

if TYPE_CHECKING:
    import requests

    from sandbox.http import Emulator
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.mailchimp import MailchimpSandbox
    from sandbox.salesforce import SalesforceSandbox


VENDORS = {"hubspot": "HubSpot", "salesforce": "Salesforce", "mailchimp": "Mailchimp"}
"""Each emulator's vendor, as a person names it; also the order of their ports."""


class PortUnavailable(OSError):
    """An emulator cannot listen on the port asked for (taken, or not ours to use)."""

    def __init__(self, system: str, port: int, cause: OSError) -> None:
        self.system, self.port = system, port
        known = {errno.EADDRINUSE: "it is in use", errno.EACCES: "permission denied"}
        self.reason = known.get(cause.errno or 0, (cause.strerror or str(cause)).lower())
        super().__init__(
            cause.errno, f"{VENDORS[system]} cannot listen on port {port}: {self.reason}"
        )


class Sandbox:
    """The three emulators, on one world and one clock, started and stopped together."""

    def __init__(
        self,
        world: World | None = None,
        *,
        people: int = 0,
        seed: int = 0,
        scale: float = 1.0,
        latency: Latency | None = None,
        faults: Mapping[str, FaultPlan] | None = None,
        hubspot_tier: str = "professional",
        real_clock: bool = False,
    ) -> None:
        """`real_clock` moves the world to end now and keeps vendor time at real speed."""
        from sandbox.hubspot import HubSpotSandbox
        from sandbox.mailchimp import MailchimpSandbox
        from sandbox.salesforce import SalesforceSandbox

        if world is None and people:
            from sandbox.world.generate import generate_world

            world = generate_world(people, seed=seed)
        if real_clock:
            if scale != 1:
                raise ValueError("a sandbox on the real clock runs at scale 1")
            start = time.time()
            world = (
                world.moved(start) if world is not None else WorldBuilder(datetime.now(UTC)).build()
            )
        self.world = world
        self.clock = SandboxClock(scale)
        plans = dict(faults or {})
        clock = self.clock
        self.hubspot: HubSpotSandbox = HubSpotSandbox(
            world, tier=hubspot_tier, faults=plans.get("hubspot"), latency=latency, clock=clock
        )
        self.salesforce: SalesforceSandbox = SalesforceSandbox(
            world, faults=plans.get("salesforce"), latency=latency, clock=clock
        )
        self.mailchimp: MailchimpSandbox = MailchimpSandbox(
            world, faults=plans.get("mailchimp"), latency=latency, clock=clock
        )

    @property
    def emulators(self) -> dict[str, HubSpotSandbox | SalesforceSandbox | MailchimpSandbox]:
        return {"hubspot": self.hubspot, "salesforce": self.salesforce, "mailchimp": self.mailchimp}

    def connection_settings(self) -> dict[str, dict[str, str]]:
        """Per system, the settings that point its connector at the emulator here, keyed as
        leadscore's settings sections are (`LEADSCORE_HUBSPOT__ACCESS_TOKEN`, ...)."""
        login = self.salesforce.credentials("client_credentials")
        return {
            "hubspot": {
                "access_token": self.hubspot.token,
                "host": self.hubspot.base_url,
                "tier": self.hubspot.tier,
            },
            "salesforce": {
                "client_id": login["consumer_key"],
                "client_secret": login["consumer_secret"],
                "my_domain": f"https://{login['domain']}.salesforce.com",
            },
            "mailchimp": {
                "api_key": self.mailchimp.api_key,
                "base_url": self.mailchimp.base_url,
                "audiences": f'["{self.mailchimp.list_id}"]',
            },
        }

    def sessions(self) -> dict[str, requests.Session]:
        """Per system whose SDK cannot be pointed at a host by settings, the HTTP session
        that reaches its emulator: simple-salesforce always calls https://*.salesforce.com,
        which `sandbox.salesforce.SandboxAdapter` sends to the Salesforce emulator here."""
        from sandbox.salesforce import sandbox_session

        return {"salesforce": sandbox_session(self.salesforce)}

    def now(self) -> datetime:
        """The sandbox's present: the world's `now` plus the vendor seconds since it started."""
        return datetime.fromtimestamp(self.hubspot.world.now + self.clock.now(), UTC)

    def start(self, port: int = 0) -> Self:
        """Start every emulator: on free ports, or from `port` on in the order of `VENDORS`
        (HubSpot on `port`, Salesforce on `port + 1`, Mailchimp on `port + 2`). When one
        cannot listen, those already started stop and `PortUnavailable` says which."""
        started: list[Emulator] = []
        for offset, (name, emulator) in enumerate(self.emulators.items()):
            wanted = port + offset if port else 0
            try:
                emulator.start(wanted)
            except OSError as exc:
                for running in started:
                    running.stop()
                raise PortUnavailable(name, wanted, exc) from exc
            started.append(emulator)
        return self

    def stop(self) -> None:
        for emulator in self.emulators.values():
            emulator.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "FaultPlan",
    "Latency",
    "PortUnavailable",
    "Sandbox",
    "SandboxClock",
    "World",
    "WorldBuilder",
]
