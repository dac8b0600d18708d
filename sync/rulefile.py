"""The rule file read and checked, apart from the settings, so that `leadscore validate`
loads neither pydantic-settings nor anything of the sync."""

from __future__ import annotations

from pathlib import Path

from scoring import RuleFileError, RuleSet, load_rules
from sync.errors import ConfigError


def read_rules(path: Path) -> RuleSet:
    """The rule file, or a `ConfigError` with file, line and field of every problem."""
    try:
        return load_rules(path)
    except RuleFileError as exc:
        lines = [str(p) for p in exc.problems]
        if not path.exists() and path == Path("leadscore.yaml"):
            lines.append(
                "no rule file here: run `leadscore init` to write one, set LEADSCORE_RULES, "
                "or pass --rules FILE"
            )
        raise ConfigError(lines) from None
