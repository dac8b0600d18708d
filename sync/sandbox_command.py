"""`leadscore sandbox`: the three emulators served until Ctrl-C, and the `.env` lines that
point leadscore at them.

The lines come from `Sandbox.connection_settings()`, named as the settings read
them (`LEADSCORE_HUBSPOT__ACCESS_TOKEN`, ...), with the demo's stage mapping
and a state store of the sandbox's own, so that `leadscore setup` and
`leadscore sync --full` run by hand do what the demo does for HubSpot alone
(the Salesforce emulator is reached through a transport adapter, which settings
cannot name, so it gets no lines). With the real clock, the world ends at the
machine's present, which is the moment a user's sync scores as of: the scores,
grades and stages written are those of a HubSpot-only demo.
"""

from __future__ import annotations

import json
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from rich.console import Console

from connectors.registry import system
from sandbox import VENDORS, Latency, PortUnavailable, Sandbox
from sync.demo import DEMO_STAGES
from sync.errors import ConfigError
from sync.settings import PREFIX

SANDBOX_STATE_URL = "sqlite:///leadscore-sandbox.db"
"""The state store suggested for syncing the sandbox: its own file, apart from a real one."""
HIGHEST_PORT = 65535


@dataclass(frozen=True)
class SandboxOptions:
    """What `leadscore sandbox` was asked for."""

    people: int = 5000
    seed: int = 7
    scale: float = 1.0
    latency_ms: float = 0.0
    tier: str = "professional"
    port: int = 0
    """The first of three ports (HubSpot, Salesforce, Mailchimp); 0 for free ones."""
    real_clock: bool = False

    def problems(self) -> list[str]:
        """What is wrong with these options, said before anything is built."""
        found = []
        last = HIGHEST_PORT - len(VENDORS) + 1
        if self.port and not 1 <= self.port <= last:
            found.append(f"--port: expected 1 to {last}, or 0 for free ports; got {self.port}")
        if self.real_clock and self.scale != 1:
            found.append(
                f"--real-clock runs vendor time at real speed: drop --scale {self.scale:g}"
            )
        return found


def sandbox_env_lines(box: Sandbox, state_url: str = SANDBOX_STATE_URL) -> list[str]:
    """The `.env` lines that point leadscore at `box`, as the demo's settings do."""
    lines = []
    reached_by_session = box.sessions()  # not by settings alone: a user's sync cannot
    for name, values in box.connection_settings().items():
        if name in reached_by_session:
            continue
        section = f"{PREFIX}{name.upper()}__"
        lines += [f"{section}{key.upper()}={value}" for key, value in values.items()]
        setting, stages = system(name).settings.stage_setting, DEMO_STAGES.get(name)
        if setting and stages:
            lines.append(f"{section}{setting.upper()}='{json.dumps(stages)}'")
    lines.append(f"{PREFIX}STATE_URL={state_url}")
    return lines


def serve_sandbox(console: Console, options: SandboxOptions) -> None:
    """Build the world, start the emulators, print how to reach them; serve until Ctrl-C."""
    problems = options.problems()
    if problems:
        raise ConfigError(problems)
    began = time.perf_counter()
    box = Sandbox(
        people=options.people,
        seed=options.seed,
        scale=options.scale,
        latency=Latency(fixed=options.latency_ms / 1000),
        hubspot_tier=options.tier,
        real_clock=options.real_clock,
    )
    built = time.perf_counter()
    try:
        box.start(options.port)
    except PortUnavailable as exc:
        hint = "choose another --port, or leave it out for free ports"
        raise ConfigError([str(exc.strerror), hint]) from None
    # Ctrl-C (SIGINT) stops it even where it started with SIGINT ignored, as a background
    # job of a script is, and as a process a test runner's worker starts may be
    interrupted = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        print_connection(console, box, options, (built - began, time.perf_counter() - built))
        while True:
            time.sleep(3600)
    finally:
        box.stop()
        signal.signal(signal.SIGINT, interrupted)


def print_connection(
    console: Console, box: Sandbox, options: SandboxOptions, took: tuple[float, float]
) -> None:
    def say(text: str) -> None:
        # Plain and never wrapped: a wrapped `.env` line would paste as two.
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    sf, ends = box.salesforce.login, datetime.fromtimestamp(box.hubspot.world.now, UTC)
    say(f"HubSpot     {box.hubspot.base_url}  (access token: {box.hubspot.token})")
    say(
        f"Salesforce  {box.salesforce.base_url}  (username: {sf.username}, password: "
        f"{sf.password}, security token: {sf.security_token}, consumer key: "
        f"{sf.consumer_key}, consumer secret: {sf.consumer_secret})"
    )
    say(f"Mailchimp   {box.mailchimp.base_url}/3.0  (API key: {box.mailchimp.api_key})")
    say(
        f"{options.people:,} people (seed {options.seed}), their activity up to "
        f"{ends:%Y-%m-%d %H:%M} UTC; world built in {took[0]:.1f} s, "
        f"servers started in {took[1]:.2f} s"
    )
    if not options.real_clock:
        say(
            "note: `leadscore sync` scores as of the machine's clock, not the world's end: "
            "start with --real-clock to score as the demo does"
        )
    say("\nAdd these lines to the end of .env (`leadscore init` writes a .env and")
    say("leadscore.yaml with the default rules, as the demo uses):\n")
    for line in sandbox_env_lines(box):
        say(line)
    say("\nthen run:\n  leadscore setup\n  leadscore sync --full\n\nCtrl-C to stop")
    console.file.flush()
