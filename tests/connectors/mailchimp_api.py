"""The Mailchimp client the activity and order tests call the sandbox through, and a clock
that moves only when a test moves it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from connectors.mailchimp.client import MailchimpApi
from connectors.policy import CallPolicy
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.tables import World


def sandbox_api(sandbox: MailchimpSandbox) -> MailchimpApi:
    """The product's client on the sandbox (real SDK, call policy, connection cap), with
    retries that wait no time."""
    return MailchimpApi(
        api_key=sandbox.api_key,
        base_url=sandbox.base_url,
        policy=CallPolicy("mailchimp", clock=FrozenClock(), seed=0),
    )


class FrozenClock(SandboxClock):
    """Vendor time that moves only when a test moves it; sleeps stay real."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset


@contextmanager
def hand_built(world: World) -> Iterator[MailchimpSandbox]:
    """A running sandbox of a hand-built world, as its tests expect it: every bounce hard,
    nobody transactional or archived, vendor time frozen."""
    emulator = MailchimpSandbox(
        world, clock=FrozenClock(), soft_bounce_share=0, transactional_share=0, archived_share=0
    )
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()
