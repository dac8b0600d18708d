"""The settings of a HubSpot portal: `LEADSCORE_HUBSPOT__*`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

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

    webhook_client_secret: SecretStr | None = Field(
        None,
        description="The client secret of the HubSpot app whose id a workflow's 'Send a webhook' "
        "action signs with (X-HubSpot-Signature-v3); empty: signed requests are refused.",
    )
    webhook_accept_v2: bool = Field(
        False,
        description="Also accept HubSpot's v2 signature (X-HubSpot-Signature, no timestamp) "
        "when a request carries no v3 one. Off by default: HubSpot sends v3 headers with its "
        "requests, so a v2-only request is a captured one with its v3 headers stripped, which "
        "could be replayed forever; turn it on only for an action that signs with v2 alone.",
    )
    portal_id: int | None = Field(
        None,
        gt=0,
        description="The portal's id (Hub ID, Settings > Account details): the app webhook of "
        "contact deletions (POST /hubspot/events) acts only on events of this portal, since "
        "one app's secret signs the events of every portal that installed it; empty: that "
        "webhook is off.",
    )
    webhook_api_key: SecretStr | None = Field(
        None,
        description="The API key a workflow's 'Send a webhook' action sends (authentication "
        "'API key'); empty: no key is accepted. Needs webhook_api_key_name.",
    )
    webhook_api_key_name: str | None = Field(
        None,
        description="The API key name chosen in the action: the request header or query "
        "parameter the key comes in (either is looked at), e.g. X-Leadscore-Key.",
    )

    @field_validator(
        "access_token",
        "host",
        "webhook_client_secret",
        "webhook_api_key",
        "webhook_api_key_name",
        "portal_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _key_has_a_name(self) -> HubSpotSettings:
        if self.webhook_api_key is not None and self.webhook_api_key_name is None:
            raise ValueError(
                "webhook_api_key needs webhook_api_key_name: the header or query parameter "
                "name chosen in the workflow's webhook action"
            )
        return self

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
