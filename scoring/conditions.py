"""Field conditions: the operators of the rule language and their evaluation on columns.

A condition maps field names to operators, e.g.
``{industry: {one_of: [SaaS, Fintech]}, employees: {between: [50, 1000]}}``;
every operator of every field must hold. A bare value is shorthand for
``equals`` and a bare list for ``one_of``. Text comparisons ignore case. Every
operator except ``exists`` is false on a missing value, the negated ones too,
so that a rule never fires on what is not known, unless ``or_missing: true``
says that a missing value matches as well.
"""

from __future__ import annotations

import math
import re
import re._constants as _sre  # type: ignore[import-not-found]  # the parse tree opcodes
import re._parser as _parser  # type: ignore[import-not-found]  # re's parser
from collections.abc import Callable, Mapping
from functools import cached_property
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from scoring.numbers import parse_number

LIMIT = 1e15
"""The largest magnitude of a number compared with an attribute (beyond it floats lose
whole units, and a bound this large is a typo)."""
Comparand = Annotated[float, Field(allow_inf_nan=False, ge=-LIMIT, le=LIMIT)]
"""A finite number a condition compares an attribute with."""


def _finite(value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and (not math.isfinite(value) or abs(value) > LIMIT):
        shown = repr(value) if len(repr(value)) <= 20 else repr(value)[:17] + "..."
        raise ValueError(f"a number must be finite and within ±1e15, got {shown}")
    return value


Scalar = Annotated[str | int | float | bool, AfterValidator(_finite)]
TRUE_WORDS = frozenset({"true", "yes", "y", "t", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "f", "0", "off"})


class Operators(BaseModel):
    """The operators applied to one field; all that are given must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # as `Strict`

    equals: Scalar | None = Field(None, description="Equal (text ignores case).")
    not_equals: Scalar | None = Field(None, description="Present and not equal.")
    one_of: list[Scalar] | None = Field(None, description="Equal to one of these.")
    not_one_of: list[Scalar] | None = Field(None, description="Present and equal to none.")
    contains: str | list[str] | None = Field(
        None, description="Text contains this (or one of these), ignoring case."
    )
    not_contains: str | list[str] | None = Field(
        None, description="Present and contains none of these."
    )
    regex: str | None = Field(None, description="Python regular expression, searched in the text.")
    gt: Comparand | None = Field(None, description="Number greater than.")
    gte: Comparand | None = Field(None, description="Number greater than or equal to.")
    lt: Comparand | None = Field(None, description="Number less than.")
    lte: Comparand | None = Field(None, description="Number less than or equal to.")
    between: tuple[Comparand, Comparand] | None = Field(
        None, description="Number within [low, high], both ends included."
    )
    exists: bool | None = Field(
        None, description="true: the field has a value; false: it has none."
    )
    or_missing: bool | None = Field(
        None,
        description="true: a missing value matches too, e.g. {equals: completed, "
        "or_missing: true} for a meeting marked completed or not marked at all.",
    )

    @model_validator(mode="after")
    def _or_missing_needs_more(self) -> Operators:
        if self.or_missing is not None and not self.given:
            raise ValueError(
                "`or_missing` needs another operator, e.g. {equals: x, or_missing: true}"
            )
        return self

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
            except (RecursionError, OverflowError):
                raise ValueError("invalid regular expression: too complex") from None
            unsupported = regex_problem(pattern)
            if unsupported:
                raise ValueError(f"regex {_shown(pattern)}: {unsupported}")
        return pattern

    @field_validator("between")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float] | None) -> tuple[float, float] | None:
        if bounds is not None and bounds[0] > bounds[1]:
            raise ValueError(f"between needs [low, high] with low <= high, got {list(bounds)}")
        return bounds

    @cached_property
    def given(self) -> dict[str, Any]:
        """The operators given, `or_missing` aside (it says what a missing value does);
        worked out once per (frozen) model, as the engine asks on every call: not to be
        changed by its readers."""
        return {k: v for k, v in self if v is not None and k != "or_missing"}


# --- regular expressions that run in bounded time ----------------------------------------

REGEX_TEXT = 1000
"""A `regex` is searched in the first this many characters of a value."""
MAX_REPEATS = 2
"""The most quantifiers (`*`, `+`, `{m,n}` with n > 1) a `regex` may have."""
_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT}
_LOOKAROUND = "lookarounds ((?=...), (?!...), (?<=...), (?<!...)) are not supported"
_BACKREFERENCE = "backreferences (\\1, (?P=name), (?(1)...)) are not supported"


def regex_problem(pattern: str) -> str | None:
    """Why a pattern could take more than polynomial time on some text, or None.

    Python's engine backtracks: a quantifier over something that can itself match
    in several ways (`(a+)+`, `(a|ab)*`), a backreference or a lookaround can take
    time exponential in the text. Those are refused; the rest are bounded by the
    number of quantifiers and the length of the text searched (`REGEX_TEXT`).
    """
    try:
        tree = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return "too complex"
    repeats = 0

    def walk(items: Any, inside_repeat: bool) -> str | None:
        nonlocal repeats
        for op, arg in items:
            if op in (_sre.ASSERT, _sre.ASSERT_NOT):
                return _LOOKAROUND
            if op in (_sre.GROUPREF, _sre.GROUPREF_EXISTS):
                return _BACKREFERENCE
            children: list[Any] = []
            if op in _REPEATS:
                _, high, body = arg
                if high > 1:
                    if inside_repeat:
                        return "nested quantifiers such as (a+)+ are not supported"
                    repeats += 1
                    if repeats > MAX_REPEATS:
                        return f"more than {MAX_REPEATS} quantifiers (*, +, {{m,n}}) in one regex"
                    problem = walk(body, True)
                    if problem:
                        return problem
                    continue
                children = [body]
            elif op is _sre.BRANCH:
                if inside_repeat:
                    return "a quantified alternation such as (a|ab)+ is not supported"
                children = arg[1]
            elif op is _sre.SUBPATTERN:
                children = [arg[-1]]
            elif op is _sre.ATOMIC_GROUP:
                children = [arg]
            for child in children:
                problem = walk(child, inside_repeat)
                if problem:
                    return problem
        return None

    return walk(tree, False)


def _shown(pattern: str) -> str:
    return repr(pattern) if len(pattern) <= 40 else repr(pattern[:37] + "...")


def _shorthand(value: Any) -> Any:
    if isinstance(value, Mapping) or value is None:
        return value
    if isinstance(value, list):
        return {"one_of": value}
    return {"equals": value}


FieldOperators = Annotated[
    Operators,
    BeforeValidator(_shorthand, json_schema_input_type=Operators | Scalar | list[Scalar]),
]
Conditions = dict[str, FieldOperators]
"""Field name to operators; all fields must match."""


# --- evaluation of one cell ------------------------------------------------------------


def _number(cell: str | float) -> float | None:
    if isinstance(cell, float):
        return cell
    return parse_number(cell)


def _text(cell: str | float) -> str:
    if isinstance(cell, str):
        return cell
    from scoring.frames import format_number  # numpy: loaded once rules are evaluated

    return format_number(cell)


def _bool(cell: str | float) -> bool | None:
    if isinstance(cell, float):
        return cell != 0
    word = cell.strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _contains(cell: str | float, needles: str | list[str]) -> bool:
    text = _text(cell).casefold()
    items = [needles] if isinstance(needles, str) else needles
    return any(n.casefold() in text for n in items)


def _number_test(op: Callable[[float, float], bool]) -> Callable[[str | float, Any], bool]:
    def check(cell: str | float, bound: float) -> bool:
        number = _number(cell)
        return number is not None and op(number, bound)

    return check


def _between(cell: str | float, bounds: tuple[float, float]) -> bool:
    number = _number(cell)
    return number is not None and bounds[0] <= number <= bounds[1]


class _Choices:
    """A list of expected values, split by kind so one cell is tested in a few set lookups."""

    def __init__(self, values: list[Scalar]) -> None:
        self.texts = {v.casefold() for v in values if isinstance(v, str)}
        self.numbers = {
            float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)
        }
        self.bools = {v for v in values if isinstance(v, bool)}

    def match(self, cell: str | float) -> bool:
        if self.texts and _text(cell).casefold() in self.texts:
            return True
        if self.numbers and _number(cell) in self.numbers:
            return True
        return bool(self.bools) and _bool(cell) in self.bools


_CELL_TESTS: dict[str, Callable[[str | float, Any], bool]] = {
    "equals": lambda cell, arg: arg.match(cell),
    "not_equals": lambda cell, arg: not arg.match(cell),
    "one_of": lambda cell, arg: arg.match(cell),
    "not_one_of": lambda cell, arg: not arg.match(cell),
    "contains": _contains,
    "not_contains": lambda cell, arg: not _contains(cell, arg),
    "regex": lambda cell, arg: arg.search(_text(cell)[:REGEX_TEXT]) is not None,
    "gt": _number_test(float.__gt__),
    "gte": _number_test(float.__ge__),
    "lt": _number_test(float.__lt__),
    "lte": _number_test(float.__le__),
    "between": _between,
    # a present value fails `exists: false` and passes `exists: true`
    "exists": lambda cell, arg: bool(arg),
}


def _prepare(name: str, arg: Any) -> Any:
    if name in ("equals", "not_equals"):
        return _Choices([arg])
    if name in ("one_of", "not_one_of"):
        return _Choices(arg)
    if name == "regex":
        return re.compile(arg)
    return arg


def cell_predicate(ops: Operators) -> Callable[[str | float], bool]:
    """The test of one present cell against every given operator."""
    tests = [(_CELL_TESTS[name], _prepare(name, arg)) for name, arg in ops.given.items()]
    return lambda cell: all(test(cell, arg) for test, arg in tests)


def missing_matches(ops: Operators) -> bool:
    """Whether a missing value satisfies the operators: `exists: false` alone, or any
    operators with `or_missing: true` (but not `exists: true`)."""
    if ops.or_missing:
        return ops.exists is not True
    return ops.exists is False and len(ops.given) == 1
