"""Local emulators of the HubSpot, Salesforce and Mailchimp APIs over one synthetic world.

Each emulator is a real HTTP server on 127.0.0.1 that the vendor's own SDK
talks to unchanged apart from its host. They carry the demo, the integration
tests and the benchmarks:

    with Sandbox(people=500, seed=1) as sandbox:
        hubspot = HubSpot(access_token=sandbox.hubspot.token, host=sandbox.hubspot.base_url)

`leadscore sandbox` serves the same from the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.world.tables import World, WorldBuilder

if TYPE_CHECKING:
    from sandbox.hubspot import HubSpotSandbox
    from sandbox.mailchimp import MailchimpSandbox
    from sandbox.salesforce import SalesforceSandbox


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
    ) -> None:
        from sandbox.hubspot import HubSpotSandbox
        from sandbox.mailchimp import MailchimpSandbox
        from sandbox.salesforce import SalesforceSandbox

        if world is None and people:
            from sandbox.world.generate import generate_world

            world = generate_world(people, seed=seed)
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
        return {
            "hubspot": {
                "access_token": self.hubspot.token,
                "host": self.hubspot.base_url,
                "tier": self.hubspot.tier,
            },
        }

    def now(self) -> datetime:
        """The sandbox's present: the world's `now` plus the vendor seconds since it started."""
        return datetime.fromtimestamp(self.hubspot.world.now + self.clock.now(), UTC)

    def start(self) -> Self:
        for emulator in self.emulators.values():
            emulator.start()
        return self

    def stop(self) -> None:
        for emulator in self.emulators.values():
            emulator.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["FaultPlan", "Latency", "Sandbox", "SandboxClock", "World", "WorldBuilder"]
