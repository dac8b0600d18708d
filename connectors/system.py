"""What a system entry of the registry holds: its settings section, capabilities and factory."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from connectors.attributes import AttributeMap
from connectors.protocol import Capabilities, Connector
from scoring.records import ActivityType

if TYPE_CHECKING:
    from connectors.policy import Clock  # the call policy loads with a connector


def checked_url(value: str | None, example: str) -> str | None:
    """A base URL a client can call: http(s), a host, nothing else; a ValueError otherwise,
    which echoes no part of the value (a URL may carry a password)."""
    if value is None:
        return None
    try:
        parts = urlsplit(value.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in value.strip())
    ):
        raise ValueError(
            f"expected an http:// or https:// URL with a host, e.g. {example}"
            " or http://127.0.0.1:8080 (the scheme is required)"
        )
    return value.strip()


class SystemSettings(BaseModel):
    """The settings section of one system; `configured` says whether it has credentials."""

    credentials: ClassVar[tuple[str, ...]] = ()
    """The fields that must all be set for the system to be synced, named in hints."""
    stage_setting: ClassVar[str | None] = None
    """The field of this section holding an opt-in stage -> lifecycle value mapping."""
    attribute_setting: ClassVar[str | None] = None
    """The field of this section holding the user's field -> rule attribute mapping."""

    budget_per_run: float = Field(
        0.25,
        gt=0,
        le=1,
        description="Share of the daily API limit one run may spend (where the system has one).",
    )
    budget_in_all: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Share of the daily API limit past which no run calls (the rest is left to "
        "the account's other apps).",
    )

    @property
    def configured(self) -> bool:
        """Whether every credential field is set: without them the system is not synced."""
        return bool(self.credentials) and all(
            getattr(self, name) is not None for name in self.credentials
        )

    def stage_mapping(self) -> Mapping[str, str]:
        """Our stage -> the system's lifecycle value, as configured (empty: not mapped)."""
        if self.stage_setting is None:
            return {}
        mapping: Mapping[str, str] = getattr(self, self.stage_setting)
        return mapping

    def attribute_mapping(self) -> Mapping[str, str]:
        """The system's field -> rule attribute, as configured on top of the defaults."""
        if self.attribute_setting is None:
            return {}
        mapping: Mapping[str, str] = getattr(self, self.attribute_setting)
        return mapping


@dataclass(frozen=True)
class BuildOptions:
    """What a connector is built with besides its settings."""

    properties: Sequence[str] = ()
    """Contact fields to pull besides the system's usual ones (the rules' own, ours)."""
    pace: Clock | None = None
    """The clock the call policy waits on; None for the real one."""
    seed: int | None = None
    """Seed of the retry jitter, for repeatable runs."""
    attributes: AttributeMap | None = None
    """The system's fields -> rule attributes (None: the system's defaults)."""
    http: Any = None
    """A `requests.Session` a requests-based client sends its calls through instead of its
    own (None): how the local sandbox's Salesforce is reached, whose SDK builds https URLs
    to *.salesforce.com that the sandbox's transport adapter rewrites."""
    history: Callable[[Collection[ActivityType]], datetime | None] | None = None
    """The oldest moment the rules read activities of these types from, at the run's
    clock (None: they read all of them); a connector need not pull anything older."""


@dataclass(frozen=True)
class System:
    """One system leadscore can sync."""

    name: str
    label: str
    settings: type[SystemSettings]
    capabilities: Capabilities
    build: Callable[[Any, BuildOptions], Connector]
    """(this system's settings section, options) -> its connector; imports the SDK lazily."""
    attributes: AttributeMap = field(default_factory=lambda: AttributeMap({}, derive_roles=False))
    """The default mapping of the system's standard fields onto rule attributes."""

    def attribute_map(self, section: SystemSettings) -> AttributeMap:
        """The defaults with the section's own mapping on top."""
        return self.attributes.merged(section.attribute_mapping())
