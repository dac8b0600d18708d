"""RFM in the rule file: which activities are purchases, fixed bounds, named segments.

Recency, frequency and monetary value of a contact's purchases (activities of the
`activity` types, `purchase` by default: won deals and e-commerce orders come in as
such), each scored 1 to 5: by quintiles over the scored population, which the caller
computes and passes in (`scoring.rfm`), or by the fixed bounds given here. Kept apart
from `scoring.rfm` (the arrays) so that reading a rule file never loads numpy.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Self

from pydantic import BeforeValidator, Field, model_validator

from scoring.records import ActivityType
from scoring.ruletypes import MAX_DAYS, MAX_POINTS, ActivityTypes, LocatedError, Strict

MEASURES = ("recency", "frequency", "monetary")
RFM_FIELDS = {
    "rfm_r": "recency digit, 1 to 5",
    "rfm_f": "frequency digit, 1 to 5",
    "rfm_m": "monetary digit, 1 to 5",
    "rfm_score": "the sum of the three digits, 3 to 15",
    "rfm": "the three digits as text, e.g. 543",
    "rfm_segment": "the first segment whose digits match",
}
"""The contact fields RFM gives the rules' conditions (none for a contact without a purchase)."""
SYSTEM_FIELD = "system"
"""The activity field that names the system a purchase came from (`scoring.purchases`)."""
CURRENCY_FIELD = "currency"
"""The activity field that holds a purchase's currency, an ISO 4217 code."""
DEFAULT_SAME_SALE_DAYS = 7.0
Digit = Annotated[int, Field(strict=True, ge=1, le=5)]


def _range(value: Any) -> Any:
    """A digit alone is the range of that one digit (checked here, so that a wrong one
    is one error, not one per end of the range)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    if not 1 <= value <= 5:
        raise ValueError(f"a digit is 1 to 5, or a range [low, high] of them (got {value})")
    return [value, value]


DigitRange = Annotated[
    tuple[Digit, Digit],
    BeforeValidator(_range, json_schema_input_type=int | list[int]),
]
"""A digit (`5`) or an inclusive range of digits (`[4, 5]`)."""


class Segment(Strict):
    """A named group of contacts by their digits; every range given must hold."""

    name: str = Field(min_length=1, max_length=40)
    r: DigitRange | None = Field(None, description="Recency digit, or [low, high].")
    f: DigitRange | None = Field(None, description="Frequency digit, or [low, high].")
    m: DigitRange | None = Field(None, description="Monetary digit, or [low, high].")

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        given = [(k, v) for k, v in (("r", self.r), ("f", self.f), ("m", self.m)) if v]
        if not given:
            raise ValueError(f"segment {self.name!r} needs `r`, `f` or `m`")
        backwards = [
            LocatedError((key,), f"segment {self.name!r}: {key} [{low}, {high}] runs backwards")
            for key, (low, high) in given
            if low > high
        ]
        if backwards:
            raise LocatedError.all_of(backwards)
        return self


def _four_ascending(name: str, values: list[float] | None) -> LocatedError | None:
    """What is wrong with one measure's bounds, located at that measure."""
    if values is None:
        return None
    if len(values) != 4:
        message = f"takes four bounds (between the five digits), not {len(values)}"
        return LocatedError((name,), message)
    if any(b <= a for a, b in itertools.pairwise(values)):
        shown = ", ".join(f"{v:g}" for v in values)
        return LocatedError((name,), f"bounds must rise: [{shown}]")
    return None


MeasureBound = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_POINTS * 1000)]


class FixedBounds(Strict):
    """Bounds between the digits; a measure without them is scored by quintiles."""

    recency: list[Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_DAYS)]] | None = Field(
        None,
        description="Days since the last purchase: up to the first bound 5, up to the second "
        "4, ..., beyond the fourth 1.",
    )
    frequency: list[MeasureBound] | None = Field(
        None, description="Purchases: up to the first bound 1, ..., beyond the fourth 5."
    )
    monetary: list[MeasureBound] | None = Field(
        None, description="Amount of the purchases: up to the first bound 1, ..., beyond 5."
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        found = [e for e in (_four_ascending(m, getattr(self, m)) for m in MEASURES) if e]
        if found:
            raise LocatedError.all_of(found)
        return self


def _currency(value: Any) -> Any:
    """An ISO 4217 code, upper-cased (`eur` is EUR)."""
    if not isinstance(value, str):
        return value
    code = value.strip().upper()
    if re.fullmatch(r"[A-Z]{3}", code) is None:
        raise ValueError(f"a currency is a three-letter ISO 4217 code such as EUR (got {value!r})")
    return code


Currency = Annotated[str, BeforeValidator(_currency, json_schema_input_type=str)]
Rate = Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e9)]


class Rfm(Strict):
    """Recency, frequency and monetary value of purchases, each a digit 1 to 5."""

    activity: ActivityTypes = Field(
        default_factory=lambda: [ActivityType.PURCHASE],
        description="The activity types that are purchases (won deals, orders).",
    )
    amount: str = Field(
        "amount", min_length=1, max_length=200, description="The purchases' amount field."
    )
    bounds: FixedBounds = Field(
        default_factory=FixedBounds,
        description="Fixed bounds per measure; without, quintiles over the scored population.",
    )
    segments: list[Segment] = Field(
        default_factory=list, max_length=50, description="Named groups, the first match wins."
    )
    write: bool = Field(False, description="Write the digits, their sum and segment back.")
    same_sale_days: Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_DAYS)] | None = Field(
        DEFAULT_SAME_SALE_DAYS,
        description="Purchases of one person from different systems with the same amount "
        "at most this many days apart are one sale, counted once at the earliest date; "
        "null counts every purchase.",
    )
    currency: Currency | None = Field(
        None,
        description="The ISO 4217 currency monetary value is measured in; a purchase without "
        "a `currency` field is in it.",
    )
    rates: dict[str, Rate] = Field(
        default_factory=dict,
        max_length=200,
        description="Other currency -> the factor that turns its amounts into `currency`; "
        "purchases in a currency without one are left out of monetary value.",
    )

    @model_validator(mode="after")
    def _currencies(self) -> Self:
        found = [
            LocatedError(("rates", code), message)
            for code in self.rates
            if (message := _rate_problem(code, self.currency))
        ]
        named: set[str] = set()
        for code in self.rates:  # `usd` and `USD` are one currency: one rate would be lost
            if code.strip().upper() in named:
                message = f"{code.strip().upper()} is named twice; give it one rate"
                found.append(LocatedError(("rates", code), message))
            named.add(code.strip().upper())
        if self.rates and self.currency is None:
            found.insert(
                0, LocatedError(("rates",), "rates need `currency`, the one they turn into")
            )
        if found:
            raise LocatedError.all_of(found)
        return self

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [s.name.casefold() for s in self.segments]
        repeated = [
            LocatedError(("segments", i, "name"), f"segment {self.segments[i].name!r} named twice")
            for i, name in enumerate(names)
            if name in names[:i]
        ]
        if repeated:
            raise LocatedError.all_of(repeated)
        return self

    @property
    def factors(self) -> dict[str, float]:
        """`rates` by upper-case code."""
        return {code.strip().upper(): rate for code, rate in self.rates.items()}

    @property
    def quintiles(self) -> tuple[str, ...]:
        """The measures scored by quintiles over the population (no fixed bounds)."""
        return tuple(m for m in MEASURES if getattr(self.bounds, m) is None)


def _rate_problem(code: str, currency: str | None) -> str | None:
    """What is wrong with a rate's currency code (None: nothing)."""
    if re.fullmatch(r"[A-Z]{3}", code.strip().upper()) is None:
        return f"a currency is a three-letter ISO 4217 code such as EUR (got {code!r})"
    if code.strip().upper() == currency:
        return f"{code} is `currency` itself; it takes no rate"
    return None
