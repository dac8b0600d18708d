"""Each operator of the rule language, on text, numbers and missing values."""

from __future__ import annotations

import pytest

from scoring import Contact, score_records
from tests.helpers import NOW, rules


def fit_points(condition: str, **attributes: object) -> float:
    ruleset = rules(
        f"""
        rules:
          - id: fit_rule
            contact: {{{condition}}}
            points: 10
        """
    )
    batch = score_records(ruleset, [Contact("c1", email="a@b.io", attributes=attributes)], [], NOW)
    return float(batch.total[0])


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        ("industry: SaaS", {"industry": "saas"}, 10),
        ("industry: SaaS", {"industry": "Retail"}, 0),
        ("industry: {equals: SaaS}", {}, 0),
        ("industry: {not_equals: SaaS}", {"industry": "Retail"}, 10),
        ("industry: {not_equals: SaaS}", {"industry": "SAAS"}, 0),
        ("industry: {not_equals: SaaS}", {}, 0),
        ("country: [FR, DE]", {"country": "de"}, 10),
        ("country: {one_of: [FR, DE]}", {"country": "US"}, 0),
        ("country: {not_one_of: [FR, DE]}", {"country": "US"}, 10),
        ("country: {not_one_of: [FR, DE]}", {"country": "FR"}, 0),
        ("title: {contains: market}", {"title": "Head of Marketing"}, 10),
        ("title: {contains: [sales, market]}", {"title": "VP Sales"}, 10),
        ("title: {contains: market}", {"title": "Engineer"}, 0),
        ("title: {not_contains: intern}", {"title": "Marketing Intern"}, 0),
        ("title: {not_contains: intern}", {"title": "CMO"}, 10),
        ("title: {regex: '^(VP|Head) '}", {"title": "VP Growth"}, 10),
        ("title: {regex: '^(VP|Head) '}", {"title": "Growth VP"}, 0),
        ("employees: {gt: 50}", {"employees": 51}, 10),
        ("employees: {gt: 50}", {"employees": 50}, 0),
        ("employees: {gte: 50}", {"employees": 50}, 10),
        ("employees: {lt: 50}", {"employees": 49.5}, 10),
        ("employees: {lte: 50}", {"employees": "50"}, 10),
        ("employees: {between: [50, 1000]}", {"employees": 1000}, 10),
        ("employees: {between: [50, 1000]}", {"employees": "1001"}, 0),
        ("employees: {gt: 5}", {"employees": "many"}, 0),
        ("employees: {gt: 5}", {}, 0),
        ("employees: 250", {"employees": "250"}, 10),
        ("employees: 250", {"employees": 250.0}, 10),
        ("employees: {exists: true}", {"employees": 3}, 10),
        ("employees: {exists: true}", {"employees": "  "}, 0),
        ("employees: {exists: false}", {}, 10),
        ("employees: {exists: false}", {"employees": 0}, 0),
        ("opted_in: true", {"opted_in": "Yes"}, 10),
        ("opted_in: true", {"opted_in": True}, 10),
        ("opted_in: false", {"opted_in": "0"}, 10),
        ("opted_in: true", {"opted_in": "maybe"}, 0),
        ("employees: {gte: 10, lt: 100}", {"employees": 99}, 10),
        ("employees: {gte: 10, lt: 100}", {"employees": 100}, 0),
        ("industry: SaaS, country: FR", {"industry": "SaaS", "country": "DE"}, 0),
        ("outcome: {equals: completed, or_missing: true}", {"outcome": "Completed"}, 10),
        ("outcome: {equals: completed, or_missing: true}", {}, 10),
        ("outcome: {equals: completed, or_missing: true}", {"outcome": "no_show"}, 0),
        ("outcome: {equals: completed, or_missing: false}", {}, 0),
        ("employees: {gte: 50, or_missing: true}", {}, 10),
        ("employees: {gte: 50, or_missing: true}", {"employees": "10"}, 0),
        ("employees: {exists: true, or_missing: true}", {}, 0),
    ],
)
def test_operator(condition: str, attributes: dict, expected: float) -> None:
    assert fit_points(condition, **attributes) == expected


@pytest.mark.parametrize(
    ("condition", "email", "expected"),
    [
        ("email_domain: acme.io", "Ann@ACME.io", 10),
        ("email_domain: [rival.io, acme.io]", "ann@acme.io", 10),
        ("email_domain: STRASSE.de", "ann@straße.de", 10),  # not ASCII: folded to compare
        ("email_domain: {exists: false}", "no-address-here", 10),
        ("email_domain: {exists: false}", "ann@", 10),
        ("email_free: true", "someone@gmail.com", 10),
        ("email_free: true", "ann@acme.io", 0),
        ("email_free: false", "ann@acme.io", 10),
        ("email_free: {exists: false}", None, 10),
        ("email: {exists: true}", " ", 0),
    ],
)
def test_derived_email_attributes(condition: str, email: str | None, expected: float) -> None:
    ruleset = rules(f"rules:\n  - {{id: r, contact: {{{condition}}}, points: 10}}\n")
    batch = score_records(ruleset, [Contact("c1", email=email)], [], NOW)
    assert batch.total[0] == expected


def test_numeric_and_text_columns_agree_on_every_operator() -> None:
    """A value read from CSV text scores like the same value read as a JSON number."""
    conditions = [
        "v: 5",
        "v: {not_equals: 5}",
        "v: [1, 5]",
        "v: {contains: '5'}",
        "v: {regex: '^5$'}",
        "v: {gt: 4}",
        "v: {between: [5, 6]}",
        "v: {exists: true}",
        "v: {not_one_of: [7]}",
        "v: {gte: 5, or_missing: true}",
        "v: {equals: 5, or_missing: true}",
    ]
    for condition in conditions:
        for value in (5, 5.5, 0, None):
            as_text = None if value is None else str(value)
            assert fit_points(condition, v=value) == fit_points(condition, v=as_text), condition


def test_emails_given_as_a_categorical_column_are_normalized_too() -> None:
    from scoring.frames import ContactFrame, factorize

    frame = ContactFrame.from_columns(["1", "2"], factorize([" Jane@GMAIL.com", "jane@gmail.com"]))

    assert frame.emails.categories.tolist() == ["jane@gmail.com"]
    assert frame.emails.codes.tolist() == [0, 0]
    assert frame.columns["email_free"].value(0) == "true"


def test_or_missing_alone_is_refused() -> None:
    from scoring import RuleFileError

    with pytest.raises(RuleFileError, match="or_missing"):
        rules("rules:\n  - {id: r, contact: {v: {or_missing: true}}, points: 10}\n")
