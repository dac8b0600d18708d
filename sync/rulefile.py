"""The rule file read and checked, apart from the settings, so that `leadscore validate`
loads neither pydantic-settings nor anything of the sync."""

from __future__ import annotations

import functools
import hashlib
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


@functools.lru_cache(maxsize=16)
def rule_version(text: str) -> str:
    """The version of a rule file (the store's history keeps it): the SHA-256 of its text,
    in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
