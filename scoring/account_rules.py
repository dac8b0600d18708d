"""Accounts in the rule file: which contact fields name a person's account, what counts
as engagement, and which activities are counted across an account's other people.

People belong to an account (a company): the first of the `key` fields a contact has,
an email domain only when it is not a free-mail one. The sync rolls engagement up over
each account's people in its store, scores each account's fit once from its company's
attributes (`fit`) and places it on a stage (`stages`), and passes those to the engine
(`scoring.accounts`, `scoring.account_fit`), which gives the rules the `ACCOUNT_FIELDS`
and one `account_<name>` field per count. Kept apart from `scoring.accounts` (the
arrays) so that reading a rule file never loads numpy.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import Field, model_validator

from scoring.conditions import Conditions
from scoring.records import ActivityType
from scoring.ruletypes import ActivityTypes, Amount, Days, Strict

ACCOUNT_FIELDS = {
    "account": "the account's key (`email_domain:acme.com`)",
    "account_people": "people at the account",
    "account_engaged_people": "people at the account with an engagement activity",
    "account_engagement": "engagement activities of the account's people",
    "account_engagement_max": "the most engagement activities of one of its people",
    "account_fit": "the account's fit: the points of the `accounts.fit` rules its company meets",
    "account_score": "the account's fit plus its engagement",
    "account_stage": "the account's stage (`accounts.stages`)",
}
"""The contact fields accounts give the rules (missing for a contact without an account);
each count adds `account_<name>`."""

ENGAGEMENT = [
    ActivityType.EMAIL_CLICK,
    ActivityType.PAGE_VIEW,
    ActivityType.FORM_SUBMISSION,
    ActivityType.CONTENT_DOWNLOAD,
    ActivityType.QUESTION,
    ActivityType.DEMO_REQUEST,
    ActivityType.MEETING,
]
"""What engagement counts without `engagement.activity`: a person's own actions. Not
opens: mail apps and privacy proxies open messages themselves (machine opens), as
`interest_rules.INTEREST_TYPES` leaves them out; name `email_open` to count them."""


class Counted(Strict):
    """Activities of some types, in a window back from the scoring moment (without: all)."""

    activity: ActivityTypes
    window_days: Days | None = None


class Engagement(Strict):
    activity: ActivityTypes = Field(default_factory=lambda: list(ENGAGEMENT))
    window_days: Days | None = 90


class FitRule(Strict):
    """Points for an account whose company's attributes meet the conditions."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Unique name, lower_snake_case.")
    label: str | None = Field(None, description="Short text, e.g. 'target industry'.")
    company: Conditions = Field(
        min_length=1,
        description="Conditions on the company's attributes (industry, employees, "
        "annual_revenue, country, ...), in the language of contact rules.",
    )
    points: Amount = Field(description="Points when the conditions hold; negative to subtract.")


class AccountStage(Strict):
    """One rung of the accounts' ladder."""

    name: str = Field(min_length=1, max_length=100)
    when: Conditions | None = Field(
        None,
        description="Conditions on the account's values (account_fit, account_score, "
        "account_people, account_engaged_people, account_engagement, "
        "account_engagement_max, account_<count>); without: always holds.",
    )


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
    fit: list[FitRule] = Field(
        default_factory=list,
        max_length=500,
        description="account_fit: points from the company's attributes, once per account.",
    )
    stages: list[AccountStage] = Field(
        default_factory=list,
        max_length=50,
        description="account_stage: lowest first; an account is on the last stage whose "
        "conditions hold.",
    )
    write: bool = Field(
        True,
        description="Write each account's score, fit, engagement and stage onto its company "
        "record (a HubSpot company, a Salesforce Account); domain-only accounts are not written.",
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
        ids = [rule.id for rule in self.fit]
        if len(set(ids)) != len(ids):
            raise ValueError("fit: a rule id is used twice")
        names = [stage.name.casefold() for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("stages: a stage name is used twice")
        readable = set(self.stage_fields())
        for stage in self.stages:
            for name in stage.when or {}:
                if name not in readable:
                    raise ValueError(
                        f"stage {stage.name!r} reads {name!r}: an account stage reads "
                        f"{', '.join(sorted(readable))}"
                    )
        return self

    def stage_fields(self) -> list[str]:
        """The account values its stages read (a count: the account's sum)."""
        return [
            "account_fit",
            "account_score",
            "account_people",
            "account_engaged_people",
            "account_engagement",
            "account_engagement_max",
            *(f"account_{name}" for name in self.counts),
        ]

    def company_fields(self) -> list[str]:
        """The company attributes the fit rules read (also read of the people, for
        accounts that have no company record)."""
        return list(dict.fromkeys(name for rule in self.fit for name in rule.company))

    def fields(self) -> list[str]:
        """Every contact field the accounts give the rules."""
        return [*ACCOUNT_FIELDS, *(f"account_{name}" for name in self.counts)]

    def types(self) -> list[ActivityType]:
        """Every activity type the roll-ups count."""
        found = [*self.engagement.activity, *(t for c in self.counts.values() for t in c.activity)]
        return list(dict.fromkeys(found))
