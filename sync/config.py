"""Settings and the rule file, read and checked: every problem as a line a person can act on.

Light on purpose: the file commands (`validate`, `score`) use it without
importing the sync, the store or any vendor SDK.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from sync.errors import ConfigError
from sync.settings import (
    PREFIX,
    SECRETS_VARIABLE,
    Settings,
    load_settings,
    secret_file_problems,
    settings_model,
)


def read_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a `ConfigError` naming each variable at fault."""
    given = given_variables()
    unknown = unknown_variables(given)
    if unknown:
        raise ConfigError(unknown)
    secrets = os.environ.get(SECRETS_VARIABLE)
    if secrets and Path(secrets).is_dir():
        bad = secret_file_problems(Path(secrets))
        if bad:
            raise ConfigError([f"{SECRETS_VARIABLE}: {p}" for p in bad])
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        # Its text names the field and the source; the value (perhaps a secret) is left out.
        raise ConfigError(undecodable(str(exc), given)) from None
    except ValidationError as exc:
        raise ConfigError([setting_problem(e) for e in exc.errors(include_url=False)]) from None


# -- what the environment holds -----------------------------------------------------------------


def given_variables() -> dict[str, str]:
    """The `LEADSCORE_*` variables of the `.env` file and the environment (which wins)."""
    found: dict[str, str] = {}
    dotenv = Path(".env")
    if dotenv.is_file():
        from dotenv import dotenv_values

        found.update({k.upper(): v or "" for k, v in dotenv_values(dotenv).items()})
    found.update({k.upper(): v for k, v in os.environ.items()})
    return {k: v for k, v in found.items() if k.startswith(PREFIX)}


def variables(model: type[BaseModel] | None = None, prefix: str = PREFIX) -> Iterator[str]:
    """Every variable name a setting can be given by, sections included."""
    for name, info in (model or settings_model()).model_fields.items():
        variable = f"{prefix}{name.upper()}"
        yield variable
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            yield from variables(section, f"{variable}__")


def unknown_variables(given: Mapping[str, str]) -> list[str]:
    """A line for each `LEADSCORE_*` variable that names no setting, with the closest one.

    A variable below a setting that is a JSON object names one of its keys, as
    pydantic-settings reads it (`LEADSCORE_HUBSPOT__ATTRIBUTES__BUDGET_C=budget` is
    `{"budget_c": "budget"}`): a setting, not a misspelling."""
    known = [*variables(), SECRETS_VARIABLE]
    keyed = tuple(
        f"{name}__" for name in known if (setting_json(name) or "").startswith(f"{JSON_OBJECT},")
    )
    lines = []
    for name in sorted(set(given) - set(known)):
        if any(name.startswith(key) and len(name) > len(key) for key in keyed):
            continue
        # compared without the prefix every name shares, which would make any name look close
        tails = {k.removeprefix(PREFIX): k for k in known}
        import difflib  # here: every start checks the variables, few name no setting

        found = difflib.get_close_matches(name.removeprefix(PREFIX), list(tails), n=1, cutoff=0.6)
        close = [tails[found[0]]] if found else []
        hint = f"; did you mean {close[0]}?" if close else f"; settings are: {', '.join(known)}"
        lines.append(f"{name} is not a leadscore setting{hint}")
    return lines


def undecodable(message: str, given: Mapping[str, str]) -> list[str]:
    """The variables whose value is not the JSON their setting needs, from pydantic-settings'
    'error parsing value for field "hubspot" from source ...'."""
    field = re.search(r'field "([^"]+)"', message)
    base = f"{PREFIX}{field.group(1).upper()}" if field else PREFIX
    lines = []
    for name, value in sorted(given.items()):
        if name != base and not name.startswith(f"{base}__"):
            continue
        kind = setting_json(name)
        if kind is None or not value.strip():  # a blank value is the setting unset
            continue
        try:
            json.loads(value)
        except json.JSONDecodeError as exc:
            lines.append(
                f"setting {name}: not valid JSON ({exc.msg}, at character {exc.pos + 1}); "
                f"expected {kind}"
            )
    return lines or [f"setting {base} (or one of {base}__...): a value is not valid JSON"]


JSON_OBJECT = "a JSON object"
OBJECT_EXAMPLE = {"Lead": "lead"}
"""The example of a JSON object setting whose field names none of its own (`examples`)."""


def setting_json(variable: str) -> str | None:
    """What JSON a variable's setting takes ("a JSON object ..."), or None for plain text."""
    annotation: Any = settings_model()
    examples: list[Any] | None = None
    for part in variable.removeprefix(PREFIX).lower().split("__"):
        if not _is_model(annotation) or part not in annotation.model_fields:
            return None
        examples = annotation.model_fields[part].examples
        annotation = annotation.model_fields[part].annotation
    if _is_model(annotation):
        return 'a JSON object of its settings, e.g. {"tier": "starter"}'
    if get_origin(annotation) is dict or annotation is dict:
        return f"{JSON_OBJECT}, e.g. {json.dumps(examples[0] if examples else OBJECT_EXAMPLE)}"
    if get_origin(annotation) is list:
        return 'a JSON list, e.g. ["a", "b"]'
    return None


def setting_problem(error: Mapping[str, Any]) -> str:
    """One line for a setting pydantic refused: its variable, and what it expects."""
    variable = f"{PREFIX}{'__'.join(str(p) for p in error['loc']).upper()}"
    message = str(error["msg"]).removeprefix("Value error, ")
    empty = error.get("input") in (None, "")
    if error["type"] == "missing" or empty:
        return f"setting {variable} is empty: {message}"
    return f"setting {variable}: {message}"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
