"""Numbers as CRMs and spreadsheets write them, read into floats for the rules.

A number property comes back from an API as text ("1200", "1200.5"); a text
property or a CSV export holds what a person typed: "1,200", "1 200",
"1.200,50", "$1,200", "CHF 1'200", "-3,5". `parse_number` reads all of these
the way a reader of that text would, and gives None for text that is not a
number, which a rule then treats as a missing value; `unparsed_numbers` says
which fields the rules compare as numbers hold such text, so that it does not
pass silently.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the operators read numbers with `parse_number`: no import back
    from scoring.frames import ContactFrame
    from scoring.rules import RuleSet

_CURRENCY = re.compile(r"^(?:[$€£¥₹]|[A-Z]{3}\s?)|(?:\s?[A-Z]{3}|[$€£¥₹])$")
_GROUPING = re.compile(r"(?<=\d)[\s\u00a0\u202f\u2009'’](?=\d{3}(?:\D|$))")
_NUMBER = re.compile(r"[+-]?\d[\d.,]*")
_NUMERIC_OPERATORS = ("gt", "gte", "lt", "lte", "between")


def parse_number(text: str) -> float | None:
    """The number `text` writes, or None (blank, or not a number).

    Grouping by spaces or apostrophes, a currency sign or ISO code before or after,
    and either decimal mark: with both marks the last one is the decimal mark; a lone
    comma followed by exactly three digits groups thousands ("1,200"), otherwise it
    is a decimal comma ("3,5"); a lone dot is a decimal dot ("1.5"); a mark repeated
    groups thousands ("1.200.000").
    """
    cleaned = text.strip().replace("\u2212", "-")
    number: float | None
    try:
        number = float(cleaned)
    except ValueError:
        number = _written_number(cleaned)
    if number is None or math.isnan(number) or math.isinf(number):
        return None
    return number


def _written_number(text: str) -> float | None:
    text = _CURRENCY.sub("", text).strip()
    sign = ""
    if text[:1] in "+-":
        sign, text = text[:1], text[1:].strip()
    text = _CURRENCY.sub("", text).strip()
    text = _GROUPING.sub("", text)
    if not _NUMBER.fullmatch(text):
        return None
    commas, dots = text.count(","), text.count(".")
    if commas and dots:
        decimal = "," if text.rfind(",") > text.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        if text.count(decimal) > 1:
            return None
        whole, _, fraction = text.partition(decimal)
        digits = _ungrouped(whole, grouping)
        return None if digits is None else float(f"{sign}{digits}.{fraction}")
    mark = "," if commas else "."
    count = commas or dots
    if count == 0:
        return float(f"{sign}{text}")
    whole, _, rest = text.partition(mark)
    thousands = count > 1 or (
        mark == "," and len(rest) == 3 and not whole.startswith("0") and len(whole) <= 3
    )
    if thousands:
        digits = _ungrouped(text, mark)
        return None if digits is None else float(f"{sign}{digits}")
    return float(f"{sign}{whole}.{rest}")


def _ungrouped(text: str, mark: str) -> str | None:
    """`text` without its thousands marks, or None when the groups are not of three."""
    head, *groups = text.split(mark)
    if not head or len(head) > 3 or any(len(group) != 3 for group in groups):
        return None
    return head + "".join(groups)


def unparsed_numbers(rules: RuleSet, contacts: ContactFrame, samples: int = 1) -> list[str]:
    """A line for each contact field the rules compare as a number but that holds text
    that is no number: the field, how many values, `samples` examples (none: no contact's
    value in the line, for a run's summary), and what the rules do."""
    from scoring.frames import CategoricalColumn

    lines = []
    for name in dict.fromkeys(_numeric_fields(rules)):
        column = contacts.column(name)
        if not isinstance(column, CategoricalColumn):
            continue  # absent, or numbers already
        bad = [str(v) for v in column.categories if str(v).strip() and parse_number(str(v)) is None]
        if bad:
            shown = ", ".join(repr(v) for v in bad[:samples])
            example = f" (e.g. {shown})" if shown else ""
            lines.append(
                f"field {name!r}: {len(bad)} value{'s' if len(bad) > 1 else ''} the rules compare "
                f"as numbers did not parse as one{example}; they count as missing"
            )
    return lines


def _numeric_fields(rules: RuleSet) -> Iterator[str]:
    def numeric(conditions: Mapping[str, Any] | None) -> Iterator[str]:
        for name, ops in (conditions or {}).items():
            if any(getattr(ops, op, None) is not None for op in _NUMERIC_OPERATORS):
                yield name

    for rule in rules.rules:
        yield from numeric(rule.contact)
        if rule.value is not None:  # measured as a number (`per`, `buckets`)
            yield rule.value
    if rules.bant is not None:
        for conditions in rules.bant.criteria().values():
            yield from numeric(conditions)
