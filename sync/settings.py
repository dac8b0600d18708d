"""Settings: one typed object for the CLI, the webhook server and the serverless handlers.

Read, highest precedence first, from init arguments, `LEADSCORE_*` environment
variables, a `.env` file and a secrets directory (`LEADSCORE_SECRETS_DIR`, one
file per setting named like the variable, as Docker and Kubernetes mount
them). Nested settings use `__`: `LEADSCORE_HUBSPOT__ACCESS_TOKEN`. Secrets
are `SecretStr`, so they print as `**********` in logs, errors and reprs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

HUBSPOT_TIERS = ("free", "starter", "professional", "enterprise")


class HubSpotSettings(BaseModel):
    """A HubSpot portal: a private app's access token (or an OAuth access token)."""

    access_token: SecretStr | None = Field(
        None, description="Private app or OAuth access token; empty: HubSpot is not synced."
    )
    host: str | None = Field(
        None,
        description="API base URL; empty for https://api.hubapi.com (the demo sets the sandbox).",
    )
    tier: str = Field(
        "professional",
        description="Subscription tier for the 10-second limit: free, starter, professional or "
        "enterprise, with '+api_addon' for the API limit increase.",
    )

    lifecycle_stages: dict[str, str] = Field(
        default_factory=dict,
        description="Opt-in, forward-only: our stage -> lifecyclestage value, as JSON, e.g. "
        '{"Marketing qualified": "marketingqualifiedlead"}; empty: lifecyclestage is untouched.',
    )

    @field_validator("access_token", "host", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("lifecycle_stages", mode="before")
    @classmethod
    def _blank_is_empty(cls, value: Any) -> Any:
        return {} if isinstance(value, str) and not value.strip() else value

    @field_validator("tier")
    @classmethod
    def _known_tier(cls, value: str) -> str:
        base = value.removesuffix("+api_addon")
        if base not in HUBSPOT_TIERS:
            raise ValueError(f"expected one of {', '.join(HUBSPOT_TIERS)} (optionally +api_addon)")
        return value


class Settings(BaseSettings):
    """Everything leadscore reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="LEADSCORE_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    rules: Path = Field(
        Path("leadscore.yaml"), description="Rule file used by score, sync and the webhook."
    )
    state_url: SecretStr = Field(
        SecretStr("sqlite:///leadscore.db"),
        description="State store: a SQLAlchemy URL (sqlite:///file.db, postgresql+psycopg://...); "
        "secret, as it may carry a password.",
    )
    field_prefix: str = Field(
        "leadscore_", description="Prefix of the CRM fields written back (leadscore_score, ...)."
    )
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="Log format: text on a terminal and JSON elsewhere when 'auto'."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )
    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The default secrets source ignores `__`: a file LEADSCORE_HUBSPOT__ACCESS_TOKEN would be
        # skipped. The nested one reads it like the variable (and still a JSON LEADSCORE_HUBSPOT).
        secrets = NestedSecretsSettingsSource(file_secret_settings)
        return init_settings, env_settings, dotenv_settings, secrets

    @field_validator("field_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if value and not (value[0].isalpha() and value.replace("_", "").isalnum()):
            raise ValueError("expected letters, digits and underscores, starting with a letter")
        return value.lower()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the secrets directory when one is named."""
    secrets = os.environ.get("LEADSCORE_SECRETS_DIR")
    if secrets:
        return Settings(_secrets_dir=secrets, **overrides)
    return Settings(**overrides)


def env_example() -> str:
    """The commented `.env` text listing every setting with its default."""
    lines = [
        "# leadscore settings. Each may also be set as an environment variable;",
        "# the environment wins over this file. LEADSCORE_SECRETS_DIR names a",
        "# directory of files, one per setting, for secrets mounted by a platform.",
        "",
    ]
    lines += _fields(Settings, "LEADSCORE_")
    return "\n".join(lines)


def _fields(model: type[BaseModel], prefix: str) -> list[str]:
    lines: list[str] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += _fields(annotation, f"{prefix}{name.upper()}__")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        lines.append(f"# {info.description}")
        lines.append(f"{prefix}{name.upper()}={'' if default in (None, {}, []) else default}")
        lines.append("")
    return lines
