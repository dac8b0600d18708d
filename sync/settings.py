"""Settings: one typed object for the CLI, the webhook server and the serverless handlers.

Read from `LEADSCORE_*` environment variables and a `.env` file, the
environment taking precedence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    log_format: Literal["auto", "text", "json"] = Field(
        "auto", description="Log format: text on a terminal and JSON elsewhere when 'auto'."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Least severe log level written."
    )


def env_example() -> str:
    """The commented `.env` text listing every setting with its default."""
    lines = [
        "# leadscore settings. Each may also be set as an environment variable;",
        "# the environment wins over this file.",
        "",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        lines.append(f"# {field.description}")
        lines.append(f"LEADSCORE_{name.upper()}={'' if default is None else default}")
        lines.append("")
    return "\n".join(lines)
