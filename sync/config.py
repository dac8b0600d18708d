"""Settings and the rule file, read and checked: every problem as a line a person can act on.

Light on purpose: the file commands (`validate`, `score`) use it without
importing the sync, the store or any vendor SDK.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from scoring import RuleFileError, RuleSet, load_rules
from sync.errors import ConfigError
from sync.settings import Settings, load_settings


def read_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a `ConfigError` naming each variable at fault."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        # Its text names the field and the source; the value (perhaps a secret) is left out.
        cause = type(exc.__cause__).__name__ if exc.__cause__ else "bad value"
        raise ConfigError(f"settings: {exc}; {cause}") from None
    except ValidationError as exc:
        raise ConfigError(
            [
                f"setting LEADSCORE_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
        ) from None


def read_rules(path: Path) -> RuleSet:
    """The rule file, or a `ConfigError` with file, line and field of every problem."""
    try:
        return load_rules(path)
    except RuleFileError as exc:
        raise ConfigError([str(p) for p in exc.problems]) from None
