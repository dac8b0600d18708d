"""The settings of a Salesforce org: `LEADSCORE_SALESFORCE__*`.

One of four ways to log in, chosen by which settings are given (the first whose
settings are all there):

- an access token and its instance URL (`access_token`, `instance_url`), got
  elsewhere; it cannot be renewed here, so an expired one stops the run;
- the JWT bearer flow (`client_id`: the connected app's consumer key, `username`,
  and `private_key` or `private_key_file`), against `domain` (login or test);
- the OAuth 2.0 client credentials flow (`client_id`, `client_secret`, and the
  org's My Domain URL in `my_domain`; Salesforce answers it on My Domain only);
- legacy: username and password (`username`, `password`, with `security_token` for
  SOAP login, or with `client_id` and `client_secret` for the OAuth password flow).
  Salesforce is retiring both; they stay for orgs that have nothing else yet.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from connectors.system import SystemSettings, checked_url

LoginFlow = Literal["token", "jwt", "client_credentials", "password"]


class SalesforceSettings(SystemSettings):
    """A Salesforce org and how to log in to it."""

    credentials: ClassVar[tuple[str, ...]] = ("client_id", "client_secret", "my_domain")
    """The recommended flow's settings, named in hints (`configured` accepts any flow)."""
    stage_setting: ClassVar[str | None] = "lead_statuses"
    attribute_setting: ClassVar[str | None] = "attributes"

    client_id: str | None = Field(
        None, description="The connected app's consumer key (client credentials, JWT, OAuth)."
    )
    client_secret: SecretStr | None = Field(
        None, description="The connected app's consumer secret (client credentials flow)."
    )
    my_domain: str | None = Field(
        None,
        description="The org's My Domain URL, e.g. https://acme.my.salesforce.com "
        "(client credentials flow).",
    )
    username: str | None = Field(None, description="The integration user (JWT bearer flow).")
    private_key: SecretStr | None = Field(
        None, description="The PEM private key of the connected app's certificate (JWT)."
    )
    private_key_file: Path | None = Field(
        None, description="A file holding that PEM private key, instead of private_key."
    )
    access_token: SecretStr | None = Field(
        None, description="An access token got elsewhere, with instance_url."
    )
    instance_url: str | None = Field(
        None,
        description="The org's instance URL for access_token, e.g. https://acme.my.salesforce.com.",
    )
    password: SecretStr | None = Field(
        None, description="Legacy username-password login: the user's password."
    )
    security_token: SecretStr | None = Field(
        None, description="Legacy SOAP login: the user's security token."
    )
    domain: Literal["login", "test"] = Field(
        "login", description="login for production and developer orgs, test for sandboxes."
    )
    api_version: str = Field("59.0", description="The REST API version, e.g. 59.0.")
    permission_set: str = Field(
        "Leadscore",
        description="API name of the permission set `leadscore setup` grants read and edit "
        "on its fields to (made when missing; assign it to the integration user and to "
        "whoever should see scores); empty: no field permissions are granted.",
    )
    lookback_seconds: int = Field(
        300,
        ge=0,
        le=86_400,
        description="An incremental pull re-reads this many seconds before its cursor "
        "(SystemModstamp is stamped before a transaction commits).",
    )
    bulk_query_above: int = Field(
        10_000,
        ge=0,
        description="A full pull of a stream matching more records than this runs as a Bulk "
        "API 2.0 query job (Salesforce designs them for 10,000 records or more), fewer "
        "calls than 2,000-record REST pages; 0: always REST.",
    )
    bulk_write_above: int = Field(
        10_000,
        ge=0,
        description="A run writing more records than this writes them through Bulk API 2.0 "
        "jobs (one per object: a dozen or so calls, polls included) instead of sObject "
        "Collections (one call per 200). Salesforce advises Bulk above 2,000 records; "
        "below 10,000 collections cost at most 50 calls and land at once, while a job "
        "waits in Salesforce's queue and takes one of the org's 15,000 daily Bulk "
        "batches (shared with every integration) per 10,000 records.",
    )
    lead_statuses: dict[str, str] = Field(
        default_factory=dict,
        description="Opt-in, forward-only: our stage -> Lead Status value, as JSON, e.g. "
        '{"Sales qualified": "Working - Contacted"}; each value is checked against the '
        "org's Lead Status picklist before anything is written. A Lead's Status is set only "
        "when the mapped value comes later in the picklist's order (as Setup lists it) than "
        "its current one: a Status a rep moved on, or a closed one listed after the open "
        "ones, is never moved back, and a value the picklist no longer lists is left alone. "
        "Contacts have no Status: nothing of the mapping is written to them. Empty: Status "
        "is untouched.",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Lead or Contact field -> rule attribute, as JSON, on top of the defaults "
        '(Title -> job_title, NumberOfEmployees -> employees, ...), e.g. {"Budget__c": "budget"}.',
    )

    @field_validator(
        "client_id", "client_secret", "my_domain", "username", "private_key",
        "private_key_file", "access_token", "instance_url", "password", "security_token",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("my_domain", "instance_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return checked_url(value, "https://acme.my.salesforce.com")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if re.fullmatch(r"\d{2,3}\.0", value.strip().removeprefix("v")) is None:
            raise ValueError("expected an API version such as 59.0")
        return value.strip().removeprefix("v")

    @field_validator("permission_set")
    @classmethod
    def _api_name(cls, value: str) -> str:
        value = value.strip()
        if value and re.fullmatch(r"[A-Za-z](?:_?[A-Za-z0-9])*", value) is None:
            raise ValueError(
                "expected an API name: letters, digits and single underscores, "
                "starting with a letter, e.g. Leadscore"
            )
        return value

    @field_validator("lead_statuses", "attributes", mode="before")
    @classmethod
    def _blank_is_empty(cls, value: Any) -> Any:
        return {} if isinstance(value, str) and not value.strip() else value

    @property
    def flow(self) -> LoginFlow | None:
        """How the connector logs in, by the settings given; None: not configured."""
        if self.access_token is not None and self.instance_url is not None:
            return "token"
        has_key = self.private_key is not None or self.private_key_file is not None
        if self.client_id and self.username and has_key:
            return "jwt"
        if self.client_id and self.client_secret is not None and self.my_domain:
            return "client_credentials"
        legacy_app = self.client_id and self.client_secret is not None
        if (
            self.username
            and self.password is not None
            and (self.security_token is not None or legacy_app)
        ):
            return "password"
        return None

    @property
    def configured(self) -> bool:
        return self.flow is not None

    def login_domain(self) -> str:
        """The `domain` simple-salesforce logs in at: `acme.my` of a My Domain URL for the
        client credentials flow, else login or test."""
        if self.flow == "client_credentials" and self.my_domain:
            host = urlsplit(self.my_domain).hostname or ""
            return host.removesuffix(".salesforce.com")
        return self.domain
