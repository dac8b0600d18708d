"""The settings of a Mailchimp account: `LEADSCORE_MAILCHIMP__*`.

Two ways in, one of them set: an API key, whose data centre is its suffix after
the last "-" (Mailchimp's Fundamentals page,
https://mailchimp.com/developer/marketing/docs/fundamentals/: "the data center
... is the part of the key after the dash", e.g. `…-us21`), or an OAuth access
token with its server prefix (`us21`, what the OAuth metadata call returns as
`dc`). Audiences are listed by id; none listed means every audience of the
account, read afresh by each run. Messages about a credential never repeat it.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from connectors.system import SystemSettings, checked_url

DATA_CENTRE = re.compile(r"[a-z]{2,}[0-9]+")
"""A data centre (server prefix): letters then digits, such as us21."""
KEY_HEAD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
AUDIENCE_ID = re.compile(r"[A-Za-z0-9]+")
MC_SECRET_CHARS = re.compile(r"[A-Za-z0-9._~-]+")
"""The characters a URL carries unescaped (RFC 3986's unreserved)."""
MC_SECRET_MIN = 16


def data_centre(api_key: str) -> str:
    """The data centre of an API key: what follows its last "-"."""
    return api_key.rsplit("-", 1)[-1]


def key_problem(api_key: str) -> str | None:
    """Why `api_key` cannot be a Mailchimp API key, without repeating any of it."""
    head, dash, centre = api_key.strip().rpartition("-")
    if not dash or not head:
        return "expected an API key ending in its data centre after a '-', e.g. …-us21"
    if KEY_HEAD.fullmatch(head) is None:
        return "an API key holds letters and digits before its data centre, and no spaces"
    if DATA_CENTRE.fullmatch(centre) is None:
        return "an API key ends in a data centre such as -us21 (letters, then digits)"
    return None


class MailchimpSettings(SystemSettings):
    """A Mailchimp account: an API key, or an OAuth access token and its server."""

    credentials: ClassVar[tuple[str, ...]] = ("api_key",)
    attribute_setting: ClassVar[str | None] = "attributes"

    api_key: SecretStr | None = Field(
        None,
        description="API key; its data centre is the part after the last '-' (…-us21). "
        "Empty (and no access_token): Mailchimp is not synced.",
    )
    access_token: SecretStr | None = Field(
        None, description="OAuth access token, instead of an API key; needs server."
    )
    server: str | None = Field(
        None, description="The account's server prefix (data centre) for an OAuth token, e.g. us21."
    )
    audiences: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Audience (list) ids to sync, as JSON or comma-separated; empty: every "
        "audience of the account.",
    )
    base_url: str | None = Field(
        None,
        description="API base URL without /3.0; empty for https://<dc>.api.mailchimp.com "
        "(the demo sets the sandbox).",
    )
    timeout: float = Field(
        30.0, gt=0, le=120, description="Seconds one API call may take (Mailchimp stops at 120)."
    )
    tags: bool = Field(
        True, description="Mark each member's stage with a tag 'leadscore: <stage>'."
    )
    batch_write_above: int = Field(
        20,
        ge=0,
        description="Runs writing more members than this send them through /batches "
        "(asynchronous, fewest calls); fewer are written call by call (at once).",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="Merge tag -> rule attribute, as JSON, on top of the defaults "
        '(FNAME -> first_name, ...), e.g. {"JOBTITLE": "job_title"}.',
        examples=[{"JOBTITLE": "job_title"}],
    )

    webhook_secret: SecretStr | None = Field(
        None,
        description="The secret of the audience webhook's URL (https://<host>/mailchimp?secret="
        "<it>), at least 16 URL-safe characters; Mailchimp signs nothing, so the webhook "
        "server compares this. Empty: the /mailchimp endpoint is off (404).",
    )

    @property
    def configured(self) -> bool:
        """An API key, or an access token (its server is then required by validation)."""
        return self.api_key is not None or self.access_token is not None

    @property
    def data_centre(self) -> str | None:
        """The data centre calls go to: the key's suffix, or the token's server."""
        if self.api_key is not None:
            return data_centre(self.api_key.get_secret_value())
        return self.server

    @field_validator(
        "api_key", "access_token", "server", "base_url", "webhook_secret", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_key")
    @classmethod
    def _key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        problem = key_problem(value.get_secret_value())
        if problem is not None:
            raise ValueError(problem)
        return SecretStr(value.get_secret_value().strip())

    @field_validator("access_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if any(c.isspace() for c in token):
            raise ValueError("an access token holds no spaces (give the token, not 'Bearer …')")
        return SecretStr(token)

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        secret = value.get_secret_value().strip()
        if len(secret) < MC_SECRET_MIN or MC_SECRET_CHARS.fullmatch(secret) is None:
            raise ValueError(
                f"a webhook secret has at least {MC_SECRET_MIN} characters, each a letter, "
                "a digit or one of - _ . ~ (it goes in a URL as it is)"
            )
        return SecretStr(secret)

    @field_validator("server")
    @classmethod
    def _server_shape(cls, value: str | None) -> str | None:
        if value is None:
            return None
        server = value.strip().lower()
        if DATA_CENTRE.fullmatch(server) is None:
            raise ValueError("expected a server prefix such as us21 (letters, then digits)")
        return server

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return checked_url(value, "https://us21.api.mailchimp.com")

    @field_validator("audiences", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:
                    raise ValueError('expected a JSON list, e.g. ["a1b2c3d4e5"]') from None
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("audiences")
    @classmethod
    def _audience_ids(cls, value: list[str]) -> list[str]:
        ids = [v.strip() for v in value]
        for audience in ids:
            if AUDIENCE_ID.fullmatch(audience) is None:
                raise ValueError(f"an audience id is letters and digits, not {audience!r}")
        return list(dict.fromkeys(ids))

    @field_validator("attributes", mode="before")
    @classmethod
    def _blank_is_empty(cls, value: Any) -> Any:
        return {} if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _one_way_in(self) -> MailchimpSettings:
        if self.api_key is not None and self.access_token is not None:
            raise ValueError("set api_key or access_token (with server), not both")
        if self.access_token is not None and self.server is None:
            raise ValueError("server is required with access_token (e.g. us21)")
        if self.api_key is not None and self.server not in (None, self.data_centre):
            raise ValueError(
                "server differs from the API key's data centre; leave server empty with a key"
            )
        return self
