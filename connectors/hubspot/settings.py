"""The settings of a HubSpot portal: `LEADSCORE_HUBSPOT__*`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from connectors.hubspot.limits import OAUTH, TIERS
from connectors.system import SystemSettings, checked_url


class HubSpotSettings(SystemSettings):
    """A HubSpot portal: a private app's access token (or an OAuth access token)."""

    credentials: ClassVar[tuple[str, ...]] = ("access_token",)
    stage_setting: ClassVar[str | None] = "lifecycle_stages"
    attribute_setting: ClassVar[str | None] = "attributes"

    access_token: SecretStr | None = Field(
        None, description="Private app or OAuth access token; empty: HubSpot is not synced."
    )
    host: str | None = Field(
        None,
        description="API base URL; empty for https://api.hubapi.com (the demo sets the sandbox).",
    )
    tier: str = Field(
        "professional",
        description="Subscription tier for a private app's limits: free, starter, professional "
        "or enterprise, with '+api_addon' for the API limit increase; 'oauth' for a public app "
        "(110 per 10 s, no daily limit).",
    )
    lifecycle_stages: dict[str, str] = Field(
        default_factory=dict,
        description="Opt-in, forward-only: our stage -> lifecyclestage value, as JSON, e.g. "
        '{"Marketing qualified": "marketingqualifiedlead"}; empty: lifecyclestage is untouched.',
    )

    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Contact property -> rule attribute, as JSON, on top of the defaults "
        '(jobtitle -> job_title, numemployees -> employees, ...), e.g. {"budget_c": "budget"}.',
        examples=[{"budget_c": "budget"}],
    )

    @field_validator("access_token", "host", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("host")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return checked_url(value, "https://api.hubapi.com")

    @field_validator("lifecycle_stages", "attributes", mode="before")
    @classmethod
    def _blank_is_empty(cls, value: Any) -> Any:
        return {} if isinstance(value, str) and not value.strip() else value

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, value: str) -> str:
        base = value.removesuffix("+api_addon")
        if base not in TIERS and value != OAUTH:
            raise ValueError(
                f"expected one of {', '.join(TIERS)} (optionally +api_addon), or {OAUTH}"
            )
        return value
