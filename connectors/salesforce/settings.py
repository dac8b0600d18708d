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

from pydantic import Field, SecretStr, ValidationInfo, field_validator

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
        "batches (shared with every integration) per 10,000 records; 0: always Bulk.",
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
        examples=[{"Sales qualified": "Working - Contacted"}],
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Lead or Contact field -> rule attribute, as JSON, on top of the defaults "
        '(Title -> job_title, NumberOfEmployees -> employees, ...), e.g. {"Budget__c": "budget"}.',
        examples=[{"Budget__c": "budget"}],
    )

    webhook_secret: SecretStr | None = Field(
        None,
        description="Shared secret of the webhooks: the `secret` query parameter of the "
        "Outbound Message endpoint URL (/salesforce/outbound?secret=...) and the "
        "X-Leadscore-Secret header of a Flow HTTP callout (/salesforce/flow); unset: "
        "both endpoints answer 404. Make it long and random (e.g. 32 bytes, base64url).",
    )
    webhook_org_id: str | None = Field(
        None,
        description="The org id (00D..., 15 or 18 characters, Setup > Company Information) "
        "an Outbound Message must come from; unset: /salesforce/outbound answers 404.",
    )

    @field_validator(
        "client_id", "client_secret", "my_domain", "username", "private_key",
        "private_key_file", "access_token", "instance_url", "password", "security_token",
        "webhook_secret", "webhook_org_id",
        mode="before",
    )  # fmt: skip
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("my_domain", "instance_url")
    @classmethod
    def _salesforce_host(cls, value: str | None, info: ValidationInfo) -> str | None:
        """`my_domain`: an org's My Domain login URL, https on a `.my.salesforce.com` host.

        Salesforce Help, "My Domain URL Formats" (with enhanced domains, the default of
        every org): production, Developer Edition and Trailhead orgs log in at
        `MyDomainName.my.salesforce.com` (`-dev-ed.develop.`, `.trailblaze.` and other
        partitioned forms end the same way), sandboxes at
        `MyDomainName--SandboxName.sandbox.my.salesforce.com`, scratch orgs at
        `....scratch.my.salesforce.com`; Trailhead's "Customize Your Login Process with
        My Domain" puts it so: "With a couple of rare exceptions, My Domain login URLs all
        belong to this same domain". The client credentials flow is answered on My Domain
        only, and simple-salesforce calls `https://<domain>.salesforce.com` with no port,
        so no other host or port can be reached through it.

        `instance_url`: the instance an access token belongs to, https on a Salesforce
        host, the org's My Domain (acme.my.salesforce.com) or a legacy instance
        (na1.salesforce.com), as the token answer's `instance_url` gives it."""
        value = checked_url(value, "https://acme.my.salesforce.com")
        if value is None:
            return None
        return _salesforce_url(value, str(info.field_name))

    @field_validator("private_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _pem_problem(value.get_secret_value(), None)
        return value

    @field_validator("private_key_file")
    @classmethod
    def _private_key_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            text = Path(value).expanduser().read_text("utf-8", errors="replace")
        except FileNotFoundError:
            raise ValueError(f"no file {value}") from None
        except IsADirectoryError:
            raise ValueError(f"{value} is a folder, not a key file") from None
        except OSError as exc:
            problem = exc.strerror or type(exc).__name__
            raise ValueError(f"cannot read {value} ({problem})") from None
        _pem_problem(text, value)
        return Path(value).expanduser()

    @field_validator("webhook_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("too short: give at least 16 characters (e.g. 32 random bytes)")
        return value

    @field_validator("webhook_org_id")
    @classmethod
    def _org_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if re.fullmatch(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?", value) is None:
            raise ValueError(
                "expected an org id: 00D and 12 or 15 more letters and digits "
                "(Setup > Company Information > Salesforce.com Organization ID)"
            )
        return value

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


PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.DOTALL
)


def _pem_problem(text: str, file: Path | None) -> None:
    """A ValueError unless `text` (of `file`, if it was read from one) holds a PEM private
    key block (`-----BEGIN ... PRIVATE KEY-----`), unencrypted; it never shows the key.
    The block is not parsed: the JWT library does that at login (`auth.signing_key`)."""
    found = PEM_PRIVATE_KEY.search(text)
    if found is None:
        problem = f"{file} holds no" if file is not None else "not a"
        raise ValueError(
            f"{problem} PEM private key: expected a -----BEGIN PRIVATE KEY----- (or BEGIN "
            "RSA PRIVATE KEY) block, the private key of the connected app's certificate"
        )
    if "ENCRYPTED" in found.group(1):
        problem = f"{file} holds" if file is not None else "this is"
        raise ValueError(f"{problem} an encrypted private key: give it unencrypted")


def _salesforce_url(value: str, setting: str) -> str:
    """`value` when it can be an org's https URL for `setting` (my_domain: a My Domain;
    instance_url: any org host on salesforce.com); a ValueError with a hint otherwise."""
    parts = urlsplit(value)
    host = (parts.hostname or "").lower().rstrip(".")
    path_ok = parts.path in ("", "/")
    if host.endswith(".lightning.force.com"):
        name = host.removesuffix(".lightning.force.com")
        raise ValueError(
            "that is the Lightning URL a browser shows, not the API's: give the org's My "
            f"Domain, https://{name}.my.salesforce.com (Setup > My Domain)"
        )
    if host in ("login.salesforce.com", "test.salesforce.com"):
        raise ValueError(
            "that is Salesforce's shared login host: give the org's My Domain, e.g. "
            "https://acme.my.salesforce.com (Setup > My Domain)"
        )
    wanted = ".my.salesforce.com" if setting == "my_domain" else ".salesforce.com"
    if (
        parts.scheme.lower() != "https"
        or parts.port not in (None, 443)
        or not host.endswith(wanted)
        or not path_ok
    ):
        example = "https://acme.my.salesforce.com"
        if setting == "my_domain":
            raise ValueError(
                f"expected the org's My Domain URL: https:// and a host ending in {wanted}, "
                f"e.g. {example} (a sandbox: https://acme--uat.sandbox.my.salesforce.com)"
            )
        raise ValueError(
            f"expected the org's instance URL: https:// and a host ending in {wanted}, "
            f"e.g. {example} or https://na1.salesforce.com"
        )
    return f"https://{host}"
