"""Settings: one typed object for the CLI, the webhook server and the serverless handlers.

Read, highest precedence first, from init arguments, `LEADSCORE_*` environment
variables, a `.env` file and a secrets directory (`LEADSCORE_SECRETS_DIR`, one
file per setting named like the variable, as Docker and Kubernetes mount
them). Nested settings use `__`: `LEADSCORE_HUBSPOT__ACCESS_TOKEN`. Secrets
are `SecretStr`, so they print as `**********` in logs, errors and reprs.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from connectors.registry import SYSTEMS
from connectors.system import SystemSettings

PREFIX = "LEADSCORE_"
"""The prefix of every setting's environment variable."""
SECRETS_VARIABLE = "LEADSCORE_SECRETS_DIR"
"""The variable naming a directory of secret files, one per setting (not itself a setting)."""
TOKEN_LENGTH = 16
"""The shortest `report_token` accepted (characters)."""


class Settings(BaseSettings):
    """Everything leadscore reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX,
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
    warehouse_url: SecretStr | None = Field(
        None,
        description="Database `leadscore score` reads `sql:TABLE` and queries from and "
        "writes `--out sql:TABLE` to when --from-url / --to-url are not given: a "
        "SQLAlchemy URL; secret, as it may carry a password.",
    )
    field_prefix: str = Field(
        "leadscore_", description="Prefix of the CRM fields written back (leadscore_score, ...)."
    )
    shadow_field_prefix: str = Field(
        "leadscore_shadow_",
        description="Prefix of the fields `sync --shadow FILE --shadow-write` writes the shadow "
        "rules' score, stage and grade to (leadscore_shadow_score, ...); must hold 'shadow'.",
    )
    models: str = Field(
        "",
        description="Further rule files scored in the same run, each for the contacts its "
        "condition names, written to fields of their own: a YAML or JSON list of {name, "
        "rules, when, field_prefix, tag} (docs/rules.md, Several models). Empty: none.",
    )
    public_url: str | None = Field(
        None,
        description="The https://host (and path prefix) callers reach the webhook server by, "
        "behind a proxy or gateway; signatures that cover the URL are checked against it. "
        "Empty: the URL the request arrived at.",
    )
    schedule_seconds: float | None = Field(
        None,
        gt=0,
        description="Seconds a scheduled sync may take where the platform does not say how "
        "long is left (Cloud Functions: the function's timeout); the run stops in time and "
        "the next one takes up the rest. Empty: 540, the longest an event function may run.",
    )
    report_token: SecretStr | None = Field(
        None,
        description="Token that opens the read-only HTML report at /report of the webhook "
        "server (Authorization: Bearer TOKEN, or ?token=TOKEN), at least 16 characters; "
        "empty: /report answers 404.",
    )
    retention_days: float | None = Field(
        None,
        gt=0,
        description="Days of activity the state store keeps for backtests and calibration: "
        "each sync purges activities older than this or than the rules' longest window, "
        "whichever is longer (rules with no window: this alone). Empty: kept until erased.",
    )
    history_retention_days: float | None = Field(
        None,
        gt=0,
        description="Days of score history the state store keeps (at least the velocity "
        "windows; each person's score in force then stays). Empty: kept until erased.",
    )
    gone_check_days: float = Field(
        7,
        ge=0,
        description="Days within which the slices of known record ids each sync reads back "
        "(HubSpot, Salesforce) cover every one, to find records deleted with no trace a pull "
        "sees (a HubSpot privacy deletion, a Recycle Bin emptied) and erase them. 0: no check.",
    )
    gone_check_max_calls: int = Field(
        100,
        ge=2,
        description="The most API calls one run spends on that check, per system (a call "
        "reads 100 ids or more); what it leaves is carried on by the next run, with a warning.",
    )
    tenants_file: Path = Field(
        Path("tenants.yaml"),
        description="The tenants file of `leadscore tenants` and `sync --tenant NAME`: each "
        "tenant's systems, secrets by reference, rule file, settings and state (README, Tenants).",
    )
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="Log format: text on a terminal and JSON elsewhere when 'auto'."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )

    def __new__(cls, *args: Any, **kwargs: Any) -> Settings:
        # `Settings(...)` builds the model with every registered system's section: this
        # class holds what all systems share, and the sections come from the registry.
        model = settings_model() if cls is Settings else cls
        instance: Settings = super().__new__(model)
        return instance

    def section(self, system: str) -> SystemSettings:
        """The settings section of a registered system (`LEADSCORE_<SYSTEM>__...`)."""
        found = getattr(self, system, None)
        if not isinstance(found, SystemSettings):
            raise KeyError(f"no settings section for {system!r}")
        return found

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

    @field_validator("state_url")
    @classmethod
    def _usable_url(cls, value: SecretStr) -> SecretStr:
        # Said here, before any connection; the URL itself is never quoted (it may hold a
        # password), only its scheme and, for a SQLite file, its folder.
        url = value.get_secret_value().strip()
        scheme = url.partition("://")[0]
        if not url:
            raise ValueError("expected a SQLAlchemy URL such as sqlite:///leadscore.db")
        if scheme in ("postgres", "postgresql"):
            raise ValueError(
                f"{scheme}:// names no driver SQLAlchemy can use here: write "
                "postgresql+psycopg://user:password@host/database (and install "
                "leadscore[postgres])"
            )
        if scheme.startswith("sqlite"):
            path = url.partition("://")[2].removeprefix("/").split("?")[0]
            folder = Path(path).parent if path and path != ":memory:" else None
            if folder is not None and not folder.is_dir():
                raise ValueError(
                    f"the folder {folder} of the SQLite file does not exist; create it or "
                    "choose another path"
                )
        return value

    @field_validator(
        "public_url",
        "schedule_seconds",
        "report_token",
        "warehouse_url",
        "retention_days",
        "history_retention_days",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        # `leadscore init` writes every setting, the unset ones as `NAME=`.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("report_token", mode="before")
    @classmethod
    def _token_trimmed(cls, value: Any) -> Any:
        # a token pasted with a space or a newline around it: the header's is trimmed too
        return value.strip() if isinstance(value, str) else value

    @field_validator("report_token")
    @classmethod
    def _token_long(cls, value: SecretStr | None) -> SecretStr | None:
        # a short token in a URL is guessed; the message never holds the token itself
        if value is not None and len(value.get_secret_value()) < TOKEN_LENGTH:
            raise ValueError(
                f"the report token needs at least {TOKEN_LENGTH} characters (it has "
                f"{len(value.get_secret_value())}); make one with `openssl rand -hex 16`"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from connectors.system import checked_url

        checked = checked_url(value.rstrip("/"), "https://leadscore.example.com")
        return checked

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        """A list given as such (a tenant's override) is kept as its JSON text."""
        if isinstance(value, list | tuple):
            import json

            return json.dumps(list(value), default=str)
        return value

    @field_validator("field_prefix", "shadow_field_prefix")
    @classmethod
    def _prefix(cls, value: str, info: ValidationInfo) -> str:
        if value and not (value[0].isalpha() and value.replace("_", "").isalnum()):
            raise ValueError("expected letters, digits and underscores, starting with a letter")
        if info.field_name == "shadow_field_prefix" and "shadow" not in value.lower():
            # a rep tells the fields apart, and Mailchimp's tags get a head of their own
            raise ValueError("expected a prefix holding 'shadow' (e.g. leadscore_shadow_)")
        return value.lower()


@functools.cache
def credential_settings(name: str) -> str:
    """The settings that configure the system `name`: `LEADSCORE_X__A and LEADSCORE_X__B`."""
    entry = next(e for e in SYSTEMS if e.name == name)
    return " and ".join(f"{PREFIX}{name}__{field}".upper() for field in entry.settings.credentials)


@functools.cache
def settings_model() -> type[Settings]:
    """`Settings` with one nested section per registered system, read from the registry:
    built once per process (each build is a pydantic model's schema, a few milliseconds,
    and reading the settings asks for it once per variable checked)."""
    sections: dict[str, Any] = {
        entry.name: (
            entry.settings,
            Field(default_factory=entry.settings, description=f"{entry.label} settings."),
        )
        for entry in SYSTEMS
    }
    model: type[Settings] = create_model(
        "Settings", __base__=Settings, __module__=__name__, **sections
    )
    return model


@functools.cache
def _isolated_model() -> type[Settings]:
    class IsolatedSettings(settings_model()):  # type: ignore[misc]
        """Settings from arguments and defaults alone."""

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    model: type[Settings] = IsolatedSettings
    return model


def isolated_settings(**values: Any) -> Settings:
    """Settings from `values` and the defaults only, never the environment, `.env` or a
    secrets directory: for the demo, the benchmarks and tests, which must not pick up
    a user's accounts or prefix."""
    return _isolated_model()(**values)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the secrets directory when one is named.

    `overrides` win over every source, e.g. `load_settings(hubspot={"host": url})`.
    """
    model = settings_model()
    secrets = os.environ.get(SECRETS_VARIABLE)
    if secrets:
        return model(_secrets_dir=secrets, **overrides)
    return model(**overrides)


def secret_file_problem(path: Path) -> str | None:
    """What is wrong with a secrets directory's file, if anything: unreadable, not UTF-8
    text, or empty (an empty secret is a mistake, never a setting left at its default)."""
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError:
        return f"{path}: expected UTF-8 text"
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or type(exc).__name__})"
    return None if text.strip() else f"{path}: the file is empty"


def secret_file_problems(folder: Path) -> list[str]:
    """The problems of the `LEADSCORE_*` files of a secrets directory, by file name."""
    try:
        files = sorted(p for p in folder.iterdir() if p.name.upper().startswith(PREFIX))
    except OSError as exc:
        return [f"{folder}: cannot be read ({exc.strerror or type(exc).__name__})"]
    found = (secret_file_problem(p) for p in files if p.is_file())
    return [p for p in found if p is not None]


def env_example() -> str:
    """The commented `.env` text listing every setting with its default."""
    lines = [
        "# leadscore settings. Each may also be set as an environment variable;",
        "# the environment wins over this file. LEADSCORE_SECRETS_DIR names a",
        "# directory of files, one per setting, for secrets mounted by a platform.",
        "",
    ]
    lines += _fields(settings_model(), "LEADSCORE_")
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
