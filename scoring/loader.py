"""Reading rule files: YAML to `RuleSet`, with errors that name file, line and field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from scoring.errors import Problem, RuleFileError
from scoring.exclude_rules import read_listed
from scoring.references import reference_problems
from scoring.rulecache import cached_data, remember
from scoring.rules import (
    DEFAULT_DIMENSIONS,
    Bant,
    Dimension,
    Grades,
    Rule,
    RuleSet,
    StageLadder,
)
from scoring.ruletypes import LocatedError

Path_ = tuple[str | int, ...]
MAX_BYTES = 1_000_000
"""The largest rule file read (the default rule set is 17 kB)."""
MAX_DEPTH = 50
"""The deepest nesting of lists and mappings (the rule language needs fewer than 15)."""
MAX_VALUES = 100_000
"""The most values a file may hold once its aliases are expanded."""


def default_rules_text() -> str:
    """The commented default rule set that `leadscore init` writes."""
    return resources.files("scoring").joinpath("rulesets/default.yaml").read_text("utf-8")


def demo_rules_text() -> str:
    """The rule set `leadscore demo` scores with: the default one, then the blocks of
    `rulesets/demo.yaml` (RFM, accounts, capacity) appended, so that its lines keep
    their numbers."""
    extra = resources.files("scoring").joinpath("rulesets/demo.yaml").read_text("utf-8")
    return default_rules_text() + extra


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rule file; raises `RuleFileError` listing every problem."""
    name = str(path)
    try:
        with Path(path).open("rb") as file:
            raw = file.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            message = f"the file is larger than {MAX_BYTES:,} bytes; a rule file is far smaller"
            raise RuleFileError([Problem(name, None, "", message)])
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise RuleFileError([Problem(name, None, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise RuleFileError(
            [Problem(name, None, "", f"not UTF-8 text (byte {exc.start}): {exc.reason}")]
        ) from None
    except OSError as exc:
        raise RuleFileError([Problem(name, None, "", f"cannot read: {exc.strerror}")]) from None
    base = Path(path).parent
    data = cached_data(Path(path), raw)
    if data is not None:
        try:
            cached = RuleSet.model_validate(data)
        except (ValidationError, ValueError, TypeError):
            pass  # read in full below, for the problems with their lines
        else:
            return _with_listed(cached, base, name, text)
    rules, data = _parsed(text, name)
    remember(Path(path), raw, data)
    return _with_listed(rules, base, name, text)


def parse_rules(text: str, name: str = "<rules>", base: Path | None = None) -> RuleSet:
    """Validate rule-file text; `name` is used in error messages, and an `exclude`
    list file is read relative to `base` (default: the working directory)."""
    return _with_listed(_parsed(text, name)[0], base or Path(), name, text)


def _with_listed(rules: RuleSet, base: Path, name: str, text: str) -> RuleSet:
    """The rule set with the addresses of its `exclude.emails_file` read in."""
    if rules.exclude is None or rules.exclude.emails_file is None:
        return rules
    from scoring.yamlrules import plain_data

    line = plain_data(text, name)[1].get(("exclude", "emails_file"))
    exclusion = read_listed(rules.exclude, base, name, line)
    return rules.model_copy(update={"exclude": exclusion})


def _parsed(text: str, name: str) -> tuple[RuleSet, Any]:
    """The rule set of rule-file text, and the plain data it was validated from."""
    if len(text) > MAX_BYTES:
        message = f"the file is larger than {MAX_BYTES:,} characters; a rule file is far smaller"
        raise RuleFileError([Problem(name, None, "", message)])
    from scoring.yamlrules import plain_data

    data, lines = plain_data(text, name)
    if not isinstance(data, dict):
        raise RuleFileError([Problem(name, 1, "", "expected a mapping at the top level")])
    try:
        return RuleSet.model_validate(data), data
    except ValidationError as exc:
        problems = _problems(exc, name, lines)
        if not any(p.located for p in problems):
            # The cross-references are checked after the structure: check them on the
            # parts that are well formed, so that they do not wait for another run.
            problems += _reference_problems(data, name, lines, {p.field for p in problems})
        ordered = sorted(problems, key=lambda p: p.problem.line or 0)  # as the file reads
        raise RuleFileError([p.problem for p in ordered]) from None


@dataclass(frozen=True)
class _Found:
    problem: Problem
    located: bool
    """Whether it came from the cross-reference check (run only on a well-formed file)."""

    @property
    def field(self) -> str:
        return self.problem.field


def _problems(exc: ValidationError, name: str, lines: Mapping[Path_, int]) -> list[_Found]:
    found: list[_Found] = []
    for error in exc.errors(include_url=False):
        loc: Path_ = tuple(_clean_loc(error["loc"]))
        message = error["msg"].removeprefix("Value error, ")
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, LocatedError):
            for located in [cause, *cause.others]:
                where = (*loc, *located.path)
                problem = Problem(name, _line_of(where, lines), _dotted(where), str(located))
                # at the top: the cross-references; within a part, that part's own shape
                found.append(_Found(problem, not loc))
            continue
        if error["type"] == "extra_forbidden":
            message = _unknown_field_message(loc)
        elif error["type"] == "missing":
            message = "this field is required"
        elif "input" in error and error["input"] is None:
            message = f"{message} (it is empty)"
        elif "input" in error and error["type"] not in ("value_error", "assertion_error"):
            message = f"{message} (got {_short(error['input'])})"
        problem = Problem(name, _line_of(loc, lines), _dotted(loc), message)
        if all(f.field != problem.field for f in found):
            found.append(_Found(problem, False))
    return found


def _reference_problems(
    data: Mapping[str, Any], name: str, lines: Mapping[Path_, int], reported: set[str]
) -> list[_Found]:
    """The cross-reference problems among the parts of `data` that validate on their own."""

    def part(model: Any, value: Any) -> Any:
        try:
            return TypeAdapter(model).validate_python(value)
        except ValidationError:
            return None

    dimensions = part(dict[str, Dimension], data.get("dimensions", DEFAULT_DIMENSIONS))
    raw_rules = data.get("rules")
    rules = []
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule = part(Rule, raw)
        if rule is not None:
            rules.append((index, rule))
    problems = reference_problems(
        dimensions,
        rules,
        part(Bant, data["bant"]) if data.get("bant") is not None else None,
        part(StageLadder, data["stages"]) if data.get("stages") is not None else None,
        part(Grades, data["grades"]) if data.get("grades") is not None else None,
    )
    # A repeated id among rules that are malformed otherwise is still a repeated id.
    valid = {index for index, _ in rules}
    ids: set[Any] = set()
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if isinstance(rule_id, str) and rule_id in ids and index not in valid:
            message = f"rule id {rule_id!r} appears twice"
            problems.append(LocatedError(("rules", index, "id"), message))
        if isinstance(rule_id, str):
            ids.add(rule_id)
    found = []
    for located in problems:
        problem = Problem(name, _line_of(located.path, lines), _dotted(located.path), str(located))
        if problem.field not in reported:
            found.append(_Found(problem, True))
    return found


def _clean_loc(loc: tuple[int | str, ...]) -> list[str | int]:
    # pydantic adds the names of union members and validators to loc; drop them
    return [
        part for part in loc if not (isinstance(part, str) and ("[" in part or part in _UNION_TAGS))
    ]


_UNION_TAGS = frozenset(
    {"str", "int", "float", "bool", "list[str]", "function-after", "function-before"}
)


def _line_of(loc: Path_, lines: Mapping[Path_, int]) -> int | None:
    for end in range(len(loc), -1, -1):
        key = tuple(str(p) if isinstance(p, str) else p for p in loc[:end])
        if key in lines:
            return lines[key]
    return None


def _dotted(loc: Path_) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _unknown_field_message(loc: Path_) -> str:
    import difflib  # here: a rule file with no mistake is read on every cold start

    field = str(loc[-1]) if loc else ""
    allowed = _allowed_fields(loc[:-1])
    hint = difflib.get_close_matches(field, allowed, n=1)
    expected = f"; did you mean {hint[0]!r}?" if hint else ""
    listing = f" (expected one of: {', '.join(allowed)})" if allowed and not hint else ""
    return f"unknown field {field!r}{expected}{listing}"


def _allowed_fields(parent: Path_) -> list[str]:
    """The field names the schema allows at a path, for 'did you mean' hints."""
    annotation: Any = RuleSet
    for part in parent:
        annotation = _step(annotation, part)
        if annotation is None:
            return []
    model = _unwrap(annotation)
    return list(model.model_fields) if _is_model(model) else []


def _step(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        field = annotation.model_fields.get(str(part))
        return None if field is None else field.annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None


def _unwrap(annotation: Any) -> Any:
    """The model, list or dict inside Optional[...] and Annotated[...]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            structured = [
                a for a in members if _is_model(_unwrap(a)) or get_origin(a) in (list, dict)
            ]
            annotation = (structured or members)[0]
        else:
            return annotation


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
