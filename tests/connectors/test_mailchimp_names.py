"""Mailchimp merge tags from (prefix, key), our stage read back, members as records."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.mailchimp.attributes import MAILCHIMP_ATTRIBUTES
from connectors.mailchimp.keys import member_hash, split_member_key
from connectors.mailchimp.members import member_records
from connectors.mailchimp.system import FIXED, MAILCHIMP_CAPABILITIES, merge_tag, stage_of_tags
from scoring.records import ActivityType
from scoring.rules import RuleSet
from sync.fields import FieldMap, FieldNameError

CAPS = MAILCHIMP_CAPABILITIES
NAMES = {"stage": "LS_STAGE"}


def test_the_default_prefix_gives_the_short_tags() -> None:
    tags = {key: merge_tag("leadscore_", key) for key in [*FIXED, "fit", "activity", "engagement"]}
    assert tags == {
        "score": "LS_SCORE",
        "grade": "LS_GRADE",
        "stage": "LS_STAGE",
        "disqualified": "LS_DQ",
        "reasons": "LS_REASONS",
        "scored_at": "LS_AT",
        "fit": "LS_FIT",
        "activity": "LS_ACTIVIT",
        "engagement": "LS_ENGAGEM",
    }
    assert re.fullmatch(r"LS_WE[0-9][0-9A-Z]{4}", merge_tag("leadscore_", "web_visits_90d"))
    assert merge_tag("acme_", "score") == "AC_SCORE"
    assert merge_tag("", "score") == "SCORE"
    assert merge_tag("9x", "fit") == "L9_FIT"


prefixes = st.sampled_from(["leadscore_", "", "acme_", "9lives-", "ls", "_"]) | st.text(max_size=12)
keys = st.text(min_size=1, max_size=40)


@given(prefixes, st.lists(keys, min_size=1, max_size=30, unique=True))
def test_tags_are_valid_deterministic_and_distinct(prefix: str, dimensions: list[str]) -> None:
    keys_ = list(dict.fromkeys([*FIXED, *dimensions]))
    tags = [merge_tag(prefix, key) for key in keys_]
    for tag in tags:
        assert CAPS.name_problem(tag) is None, tag
    assert tags == [merge_tag(prefix, key) for key in keys_]
    sharing: dict[str, list[str]] = {}
    for key, tag in zip(keys_, tags, strict=True):
        sharing.setdefault(tag, []).append(key)
    for tag, keys_of_tag in sharing.items():
        # only words of letters that begin alike meet (the field map then refuses them)
        assert len(keys_of_tag) == 1 or all(re.fullmatch("[a-z]+", k) for k in keys_of_tag), (
            tag,
            keys_of_tag,
        )


def test_a_long_word_keeps_its_first_letters_and_words_that_begin_alike_are_refused() -> None:
    assert merge_tag("leadscore_", "activity") == "LS_ACTIVIT"
    assert merge_tag("leadscore_", "engagement") == "LS_ENGAGEM"
    assert merge_tag("leadscore_", "reasonsplus") != "LS_REASONS"  # never a fixed name
    body = {"rules": [{"id": "r", "contact": {"x": {"exists": True}}, "points": 1,
                       "dimension": "activity"}],
            "dimensions": {"activity": {}, "activities": {}}}  # fmt: skip
    with pytest.raises(FieldNameError, match="activity and activities: both would be named"):
        FieldMap.for_rules(RuleSet.model_validate(body), CAPS)


@given(st.from_regex(r"[a-z][a-z0-9_]{0,3}", fullmatch=True))
def test_a_short_plain_dimension_keeps_its_name(key: str) -> None:
    tag = merge_tag("leadscore_", key)
    assert tag == "LS_" + key.upper() or key.upper() in FIXED.values()


def test_the_stage_reads_back_from_the_field_or_one_stage_tag() -> None:
    assert CAPS.held({"LS_STAGE": "MQL", "tags": ["leadscore: Lead"]}, NAMES).stage == "MQL"
    assert CAPS.held({"LS_STAGE": "", "tags": ["leadscore: Lead", "vip"]}, NAMES).stage == "Lead"
    assert CAPS.held({"tags": ["leadscore: Lead", "leadscore: MQL"]}, NAMES).stage is None
    assert CAPS.held({"tags": []}, NAMES).stage is None
    assert stage_of_tags("leadscore: x") is None


def member(**values: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": member_hash("Ann@Acme.io"),
        "email_address": "Ann@Acme.io",
        "status": "subscribed",
        "member_rating": 4,
        "merge_fields": {"FNAME": "Ann", "LNAME": "Lee", "COMPANY": "Acme"},
        "tags": [{"id": 1, "name": "newsletter"}, {"id": 2, "name": "leadscore: Lead"}],
        "timestamp_opt": "2026-10-01T09:30:00+00:00",
        "last_changed": "2026-10-02T10:00:00+00:00",
        "list_id": "abc123",
    }
    return {**base, **values}


def test_a_member_is_one_contact_and_its_signup() -> None:
    contact, activities = member_records(member(), "abc123", MAILCHIMP_ATTRIBUTES)
    assert contact.id == f"abc123:{member_hash('ann@acme.io')}"
    assert contact.email == "Ann@Acme.io" and contact.source == "mailchimp"
    attrs = contact.attributes
    assert attrs["first_name"] == "Ann" and attrs["company"] == "Acme" and attrs["FNAME"] == "Ann"
    assert attrs["status"] == "subscribed" and attrs["member_rating"] == 4
    assert attrs["tags"] == ["newsletter", "leadscore: Lead"]
    [signup] = activities
    assert signup.type is ActivityType.NEWSLETTER_SIGNUP
    assert signup.occurred_at == datetime(2026, 10, 1, 9, 30, tzinfo=UTC)
    assert signup.contact_id == contact.id and signup.id
    assert split_member_key(contact.id) == ("abc123", member_hash("ann@acme.io"))


def test_pending_and_transactional_members_have_not_signed_up() -> None:
    for status in ("pending", "transactional"):
        assert member_records(member(status=status), "abc123", MAILCHIMP_ATTRIBUTES)[1] == []
    assert member_records(member(timestamp_opt=""), "abc123", MAILCHIMP_ATTRIBUTES)[1] == []


def test_the_subscriber_hash_is_mailchimps() -> None:
    # VENDOR-FACTS 3.8: the MD5 of the lower-case address
    assert member_hash(" Jane.Doe@Example.COM ") == "0cba00ca3da1b283a57287bcceb17e35"


values = st.none() | st.text(max_size=10) | st.integers() | st.lists(st.text(max_size=5))
member_keys = st.sampled_from(["id", "email_address", "list_id", "status", "timestamp_opt"])


@given(
    st.dictionaries(member_keys | st.text(max_size=8), values, max_size=8)
    | st.none()
    | st.integers()
    | st.lists(st.text(max_size=3), max_size=2)
)
def test_any_member_body_parses_or_says_why(body: object) -> None:
    """Whatever a member's body holds, it becomes a contact keyed `<list>:<subscriber
    hash>` (the hash of its address when its id is not one), or a ValueError; never
    another exception."""
    try:
        contact, activities = member_records(body, "abc123", MAILCHIMP_ATTRIBUTES)  # type: ignore[arg-type]
    except ValueError as error:
        assert "without id or email_address" in str(error) or "is an object" in str(error)
        return
    list_id, hashed = split_member_key(contact.id)
    assert isinstance(body, dict)
    assert list_id == "abc123"  # the audience walked
    given_id, email = str(body.get("id") or "").lower(), str(body.get("email_address") or "")
    assert hashed == given_id or hashed == member_hash(email.strip())
    assert all(a.occurred_at.tzinfo is not None for a in activities)
