"""Accounts in the rule file: which contact fields name a person's account, what counts
as engagement, and which activities are counted across an account's other people.

People belong to an account (a company): the first of the `key` fields a contact has,
an email domain only when it is not a free-mail one. The sync rolls engagement up over
each account's people in its store and passes the roll-ups to the engine
(`scoring.accounts`), which gives the rules the `ACCOUNT_FIELDS` and one
`account_<name>` field per count. Kept apart from `scoring.accounts` (the arrays) so that
reading a rule file never loads numpy.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, model_validator

from scoring.records import ActivityType
from scoring.ruletypes import ActivityTypes, Days, Strict

ACCOUNT_FIELDS = {
    "account": "the account's key (`email_domain:acme.com`)",
    "account_people": "people at the account",
    "account_engaged_people": "people at the account with an engagement activity",
    "account_engagement": "engagement activities of the account's people",
    "account_engagement_max": "the most engagement activities of one of its people",
}
"""The contact fields accounts give the rules (missing for a contact without an account);
each count adds `account_<name>`."""

ENGAGEMENT = [
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.PAGE_VIEW,
    ActivityType.FORM_SUBMISSION,
    ActivityType.CONTENT_DOWNLOAD,
    ActivityType.QUESTION,
    ActivityType.DEMO_REQUEST,
    ActivityType.MEETING,
]
"""What engagement counts without `engagement.activity`: a person's own actions."""


class Counted(Strict):
    """Activities of some types, in a window back from the scoring moment (without: all)."""

    activity: ActivityTypes
    window_days: Days | None = None


class Engagement(Strict):
    activity: ActivityTypes = Field(default_factory=lambda: list(ENGAGEMENT))
    window_days: Days | None = 90


class Accounts(Strict):
    key: list[str] = Field(
        default_factory=lambda: ["account_id", "email_domain"],
        min_length=1,
        description="Contact fields naming the account, the first present wins; a free-mail "
        "email_domain names none.",
    )
    engagement: Engagement = Field(default_factory=Engagement)
    counts: dict[str, Counted] = Field(
        default_factory=dict,
        description="account_<name>: these activities of the account's other people.",
    )

    @model_validator(mode="after")
    def _names(self) -> Self:
        for name in self.counts:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"count {name!r}: lower_snake_case, e.g. demo_requests")
            if f"account_{name}" in ACCOUNT_FIELDS:
                raise ValueError(f"count {name!r}: account_{name} is already an account field")
        if len(set(self.key)) != len(self.key):
            raise ValueError("key: a field is named twice")
        return self

    def fields(self) -> list[str]:
        """Every contact field the accounts give the rules."""
        return [*ACCOUNT_FIELDS, *(f"account_{name}" for name in self.counts)]

    def types(self) -> list[ActivityType]:
        """Every activity type the roll-ups count."""
        found = [*self.engagement.activity, *(t for c in self.counts.values() for t in c.activity)]
        return list(dict.fromkeys(found))
