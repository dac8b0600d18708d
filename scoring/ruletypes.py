"""The building blocks of rule-file models: bounded numbers, activity type lists, the
strict base model, and the error that names the field it is about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from scoring.records import ActivityType

MAX_POINTS = 1e6
MAX_DAYS = 36500

Amount = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_POINTS, le=MAX_POINTS)]
"""Points, caps, floors and thresholds: finite, within a million either way."""
Days = Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_DAYS)]
"""Windows and half-lives: more than zero and at most 100 years of days."""


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _no_repeats(types: list[ActivityType]) -> list[ActivityType]:
    repeated = sorted({t.value for t in types if types.count(t) > 1})
    if repeated:
        raise ValueError(f"activity type listed twice: {', '.join(repeated)}")
    return types


ActivityTypes = Annotated[
    list[ActivityType],
    BeforeValidator(_one_or_many, json_schema_input_type=ActivityType | list[ActivityType]),
    AfterValidator(_no_repeats),
    Field(min_length=1),
]


class LocatedError(ValueError):
    """A validation error that knows the path of the field it is about."""

    def __init__(
        self,
        path: tuple[str | int, ...],
        message: str,
        *,
        others: Sequence[LocatedError] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.others = list(others)
        """Further problems found in the same check, so that none hides behind the first."""

    @classmethod
    def all_of(cls, problems: Sequence[LocatedError]) -> LocatedError:
        """One error carrying every problem of a check (at least one), the first ahead."""
        return cls(problems[0].path, str(problems[0]), others=problems[1:])


class Strict(BaseModel):
    # defer_build: a model's validator is built when it first validates, not on import;
    # a cold start that reads one rule file builds only `RuleSet`'s (about a quarter of
    # the rule modules' import time)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class BotClicks(Strict):
    """Email clicks that security scanners make, not people."""

    enabled: bool = True
    types: ActivityTypes = Field(
        default_factory=lambda: [ActivityType.EMAIL_CLICK],
        description="Activity types filtered (add email_open to filter machine opens).",
    )
    seconds_after_delivery: float = Field(
        10,
        ge=0,
        le=MAX_DAYS * 86400,
        allow_inf_nan=False,
        description="A click this soon after the email_sent of the same campaign is a scanner's.",
    )
    max_per_second: int = Field(
        2,
        ge=1,
        le=1_000_000,
        description="More clicks than this by one contact within one second are a scanner's.",
    )


class Filters(Strict):
    bot_clicks: BotClicks = Field(default_factory=BotClicks)
