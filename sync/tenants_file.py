"""The tenants file read and checked: every problem a line naming the file, line and field.

    defaults:                        # every tenant's settings unless it says otherwise
      state_url: sqlite:///state/{tenant}.db
    tenants:
      acme:
        rules: rules/acme.yaml
        field_prefix: acme_
        hubspot:
          access_token: {env: ACME_HUBSPOT_TOKEN}
      globex:
        secrets_dir: /run/secrets/globex
        state_url: {env: GLOBEX_STATE_URL}
        state_schema: globex

A tenant's keys are the settings' names in lower case (`rules`, `field_prefix`,
`hubspot: {access_token: ...}`), plus `secrets_dir` (a directory of files named like the
variables, `LEADSCORE_HUBSPOT__ACCESS_TOKEN`, as a mounted Kubernetes or Docker secret
gives them) and `state_schema` (the PostgreSQL schema of its state; the tenant's name by
default). A secret is never written in the file: it is given by reference, `{env: NAME}`
or `{file: PATH}`, or by the secrets directory. `{tenant}` in any value stands for the
tenant's name; relative paths (the rule file, references, the secrets directory, a SQLite
state file) are read from the tenants file's folder.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, SecretStr

from scoring import Problem
from sync.errors import ConfigError
from sync.settings import settings_model

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
"""A tenant's name: safe as a PostgreSQL schema, a file name and a lock's name."""
RESERVED = ("public", "pg_", "information_schema")
"""Names PostgreSQL keeps for itself (a prefix for `pg_`)."""
TENANT_KEYS = ("secrets_dir", "state_schema")
"""A tenant's keys that are not settings."""
NOT_PER_TENANT = ("tenants_file",)
"""Settings a tenant cannot have."""
PLACEHOLDER = "{tenant}"
REFERENCE_KINDS = ("env", "file")
KeyPath = tuple[str, ...]


class TenantsFileError(ConfigError):
    """The tenants file cannot be used as written (exit 2)."""


@dataclass(frozen=True)
class Reference:
    """A secret given by where it is: an environment variable or a file."""

    kind: str
    """"env" or "file"."""
    where: str

    def read(self, base: Path) -> str | None:
        """The secret, or None where the variable is unset or empty, or the file missing,
        empty or not UTF-8 text (never a default in its place)."""
        import os

        if self.kind == "env":
            found = os.environ.get(self.where, "")
            return found if found.strip() else None  # an empty variable is an unset one
        path = base / self.where
        try:
            return path.read_text("utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            return None

    def __str__(self) -> str:
        return f"the variable {self.where}" if self.kind == "env" else f"the file {self.where}"


@dataclass(frozen=True)
class TenantEntry:
    """One tenant as the file gives it: values (with `Reference`s) and the line of each."""

    name: str
    file: Path
    values: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def problem(self, path: KeyPath, message: str) -> str:
        """A line naming the file, the line and the field of `path` (below the tenant)."""
        return problem_line(self.file, self.lines, ("tenants", self.name, *path), message)


def problem_line(file: Path, lines: Mapping[KeyPath, int], path: KeyPath, message: str) -> str:
    line = None
    for end in range(len(path), 0, -1):  # the nearest path the file holds
        line = lines.get(path[:end])
        if line is not None:
            break
    return str(Problem(str(file), line, ".".join(path), message))


def read_entries(path: Path) -> list[TenantEntry]:
    """The tenants of the file at `path`, each merged with `defaults`; a
    `TenantsFileError` naming the file, line and field of every problem."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise TenantsFileError(
            f"{path}: no tenants file here; write one (see README, Tenants) or set "
            "LEADSCORE_TENANTS_FILE"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        message = f"{path}: cannot read the tenants file ({type(exc).__name__})"
        raise TenantsFileError(message) from None
    data, lines = _plain(text, path)
    problems: list[str] = []
    if not isinstance(data, dict):
        raise TenantsFileError(problem_line(path, lines, (), "expected defaults: and tenants:"))
    for key in data:
        if key not in ("defaults", "tenants"):
            problems.append(problem_line(path, lines, (str(key),), "expected defaults or tenants"))
    defaults = data.get("defaults") or {}
    tenants = data.get("tenants")
    if not isinstance(defaults, dict):
        problems.append(problem_line(path, lines, ("defaults",), "expected settings"))
        defaults = {}
    if not isinstance(tenants, dict) or not tenants:
        problems.append(problem_line(path, lines, ("tenants",), "expected one tenant or more"))
        raise TenantsFileError(problems)
    problems += _checked(defaults, ("defaults",), path, lines)
    entries = []
    for name, values in tenants.items():
        where = ("tenants", str(name))
        if not isinstance(name, str) or not NAME.match(name) or name.startswith(RESERVED):
            message = (
                "a tenant's name is 1 to 40 lower-case letters, digits and underscores, "
                "starting with a letter, and not public, pg_... or information_schema"
            )
            problems.append(problem_line(path, lines, where, message))
            continue
        if not isinstance(values, dict):
            problems.append(problem_line(path, lines, where, "expected the tenant's settings"))
            continue
        problems += _checked(values, where, path, lines)
        merged = _merged(defaults, values)
        entries.append(TenantEntry(name, path, _placed(merged, name), merged_lines(lines, name)))
    if problems:
        raise TenantsFileError(problems)
    return entries


def merged_lines(lines: Mapping[KeyPath, int], name: str) -> dict[KeyPath, int]:
    """The lines of a tenant's values: its own, else those of `defaults` they came from."""
    out = {("tenants", name, *p[1:]): n for p, n in lines.items() if p[:1] == ("defaults",)}
    out.update({p: n for p, n in lines.items() if p[:2] == ("tenants", name)})
    return out


def _merged(defaults: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in own.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key in _sections():
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _placed(value: Any, name: str) -> Any:
    """`{tenant}` replaced by the tenant's name in every value and reference."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, name)
    if isinstance(value, Reference):
        return Reference(value.kind, value.where.replace(PLACEHOLDER, name))
    if isinstance(value, dict):
        return {k: _placed(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_placed(v, name) for v in value]
    return value


# -- what each key may hold --------------------------------------------------------------------


def _sections() -> dict[str, type[BaseModel]]:
    model = settings_model()
    return {
        name: info.annotation
        for name, info in model.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)
    }


def is_secret(model: type[BaseModel], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _checked(
    values: dict[str, Any], where: KeyPath, file: Path, lines: Mapping[KeyPath, int]
) -> list[str]:
    """Problems of one tenant's (or the defaults') keys and references; references become
    `Reference`s in place."""
    model = settings_model()
    known = [n for n in model.model_fields if n not in NOT_PER_TENANT] + list(TENANT_KEYS)
    problems = []
    for key, value in list(values.items()):
        path = (*where, str(key))
        if key not in known:
            problems.append(problem_line(file, lines, path, _unknown(str(key), known)))
            continue
        section = _sections().get(key)
        if section is not None:
            if not isinstance(value, dict):
                problems.append(problem_line(file, lines, path, "expected the system's settings"))
                continue
            for inner, item in list(value.items()):
                fields = list(section.model_fields)
                if inner not in fields:
                    message = _unknown(str(inner), fields)
                    problems.append(problem_line(file, lines, (*path, str(inner)), message))
                    continue
                found = _value(section, str(inner), item, (*path, str(inner)), file, lines)
                if isinstance(found, str) and found.startswith("!"):
                    problems.append(found[1:])
                else:
                    value[inner] = found
            continue
        if key in TENANT_KEYS:
            if not isinstance(value, str) or not value.strip():
                problems.append(problem_line(file, lines, path, "expected text"))
            continue
        found = _value(model, str(key), value, path, file, lines)
        if isinstance(found, str) and found.startswith("!"):
            problems.append(found[1:])
        else:
            values[key] = found
    return problems


def _value(
    model: type[BaseModel], name: str, value: Any, path: KeyPath, file: Path,
    lines: Mapping[KeyPath, int],
) -> Any:  # fmt: skip
    """The value, a `Reference`, or "!" and the problem's line."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in REFERENCE_KINDS:
        kind, where = next(iter(value.items()))
        if not isinstance(where, str) or not where.strip():
            return "!" + problem_line(file, lines, path, f"expected {{{kind}: NAME}}")
        return Reference(str(kind), where.strip())
    if not is_secret(model, name) or value is None:
        return value
    if name == "state_url" and isinstance(value, str) and not _holds_password(value):
        return value  # a URL without a password is no secret
    return "!" + problem_line(
        file,
        lines,
        path,
        "a secret is never written in the tenants file: give {env: VARIABLE} or "
        "{file: PATH} (a mounted secret), or a file in the tenant's secrets_dir",
    )


def _holds_password(url: str) -> bool:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url.replace(PLACEHOLDER, "x")).password is not None
    except (ArgumentError, ValueError):
        return ":" in url.partition("://")[2].partition("@")[0] and "@" in url


def _unknown(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else f"expected one of {', '.join(known)}"
    return f"not a setting here; {hint}"


# -- YAML with the line of every key -----------------------------------------------------------


def _plain(text: str, file: Path) -> tuple[Any, dict[KeyPath, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = Problem(str(file), line, "", f"invalid YAML: {exc.problem}")
        raise TenantsFileError(str(problem)) from None
    except yaml.YAMLError as exc:
        raise TenantsFileError(f"{file}: invalid YAML ({type(exc).__name__})") from None
    lines: dict[KeyPath, int] = {}
    if node is None:
        raise TenantsFileError(f"{file}: the tenants file is empty")
    return _build(node, (), lines, yaml.SafeLoader(""), file), lines


def _build(
    node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], loader: yaml.SafeLoader, file: Path
) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node)
            line = key_node.start_mark.line + 1
            if key in result:
                where = ".".join((*path, str(key)))
                raise TenantsFileError(str(Problem(str(file), line, where, "duplicate key")))
            lines[(*path, str(key))] = line
            result[key] = _build(value_node, (*path, str(key)), lines, loader, file)
        return result
    if isinstance(node, yaml.SequenceNode):
        items = enumerate(node.value)
        return [_build(child, (*path, str(i)), lines, loader, file) for i, child in items]
    return loader.construct_object(node)
