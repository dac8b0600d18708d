"""Mailchimp audience webhooks: each event type as Mailchimp sends it, and any body at all."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.keys import member_key
from connectors.mailchimp.webhooks import (
    AudienceEvent,
    NotAForm,
    WebhookError,
    parse_audience_webhook,
)
from scoring.records import ActivityType as T

LIST = "a6b5da1054"
FIRED = datetime(2009, 3, 26, 21, 40, 57, tzinfo=UTC)


def body(kind: str, **data: str) -> bytes:
    """A body as Mailchimp encodes it: type, fired_at, then data[...] fields."""
    fields = {"type": kind, "fired_at": "2009-03-26 21:40:57"}
    fields.update({f"data[{k.replace('__', '][')}]": v for k, v in data.items()})
    return urlencode(fields).encode()


def test_a_subscribe_is_a_newsletter_signup_of_the_member_with_its_merge_fields() -> None:
    event = parse_audience_webhook(
        body(
            "subscribe",
            id="8a25ff1d98",
            list_id=LIST,
            email="api@mailchimp.com",
            email_type="html",
            merges__EMAIL="api@mailchimp.com",
            merges__FNAME="Mailchimp",
            merges__INTERESTS="Group1,Group2",
            ip_opt="10.20.10.30",
            ip_signup="10.20.10.30",
        )
    )

    assert (event.type, event.fired_at, event.list_id) == ("subscribe", FIRED, LIST)
    assert event.contact_id == member_key(LIST, "api@mailchimp.com")
    assert event.merges == {
        "EMAIL": "api@mailchimp.com",
        "FNAME": "Mailchimp",
        "INTERESTS": "Group1,Group2",
    }
    assert event.activity is not None
    assert event.activity.type is T.NEWSLETTER_SIGNUP
    assert event.activity.occurred_at == FIRED
    # the member's record is rescored by its id; its activity is keyed by address (`keys`)
    assert (event.activity.contact_id, event.activity.contact_email) == ("", "api@mailchimp.com")


def test_an_unsubscribe_is_an_unsubscribe_from_its_campaign() -> None:
    event = parse_audience_webhook(
        body(
            "unsubscribe",
            action="unsub",
            reason="manual",
            id="8a25ff1d98",
            list_id=LIST,
            email="api+unsub@mailchimp.com",
            merges__FNAME="Mailchimp",
            campaign_id="cb398d21d2",
        )
    )

    assert event.activity is not None
    assert event.activity.type is T.EMAIL_UNSUBSCRIBE
    assert event.activity.attributes["campaign"] == "cb398d21d2"
    assert event.campaign_id == "cb398d21d2"
    assert not event.gone


def test_an_unsubscribe_that_deletes_the_member_is_no_activity_but_a_member_gone() -> None:
    event = parse_audience_webhook(
        body("unsubscribe", action="delete", list_id=LIST, email="gone@mailchimp.com")
    )

    assert event.activity is None
    assert event.gone


def test_a_profile_update_changes_merge_fields_only() -> None:
    event = parse_audience_webhook(
        body("profile", id="8a25ff1d98", list_id=LIST, email="api@mailchimp.com", merges__FNAME="M")
    )

    assert event.activity is None
    assert event.merges == {"FNAME": "M"}


def test_an_email_change_gives_the_old_and_the_new_key() -> None:
    event = parse_audience_webhook(
        body(
            "upemail",
            list_id=LIST,
            new_id="51da8c3259",
            new_email="api+new@mailchimp.com",
            old_email="api+old@mailchimp.com",
        )
    )

    assert event.activity is None
    assert event.email == "api+new@mailchimp.com"
    assert event.contact_id == member_key(LIST, "api+new@mailchimp.com")
    assert event.old_contact_id == member_key(LIST, "api+old@mailchimp.com")


@pytest.mark.parametrize(
    ("reason", "expected"), [("hard", T.EMAIL_BOUNCE), ("abuse", T.EMAIL_SPAM_REPORT)]
)
def test_a_cleaned_address_is_a_hard_bounce_or_a_spam_report(reason: str, expected: T) -> None:
    event = parse_audience_webhook(
        body(
            "cleaned",
            list_id=LIST,
            campaign_id="4fjk2ma9xd",
            reason=reason,
            email="api+cleaned@mailchimp.com",
        )
    )

    assert event.activity is not None
    assert event.activity.type is expected
    assert event.activity.attributes["campaign"] == "4fjk2ma9xd"
    if expected is T.EMAIL_BOUNCE:
        assert event.activity.attributes["bounce_type"] == "hard"


def test_a_campaign_event_is_its_sending_status() -> None:
    event = parse_audience_webhook(
        body(
            "campaign",
            id="5aa2102003",
            subject="Test Campaign Subject",
            status="sent",
            reason="",
            list_id=LIST,
        )
    )

    assert (event.campaign_id, event.campaign_status, event.email) == ("5aa2102003", "sent", None)
    assert event.activity is None


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "type"),
        (b"type=open&fired_at=2009-03-26+21:40:57", "type"),
        (b"type=subscribe&fired_at=yesterday&data[list_id]=x&data[email]=a@b.io", "fired_at"),
        (b"type=subscribe&fired_at=2009-03-26+21:40:57&data[email]=a@b.io", "list_id"),
        (b"type=subscribe&fired_at=2009-03-26+21:40:57&data[list_id]=x", "email"),
        (
            b"type=subscribe&fired_at=2009-03-26+21:40:57&data[list_id]=x&data[email]=nobody",
            "email",
        ),
        (b"type=subscribe&data=1&data[list_id]=x", "both a value and a group"),
        (b"type=subscribe&data[list_id=x", "not of the form"),
        (b"\xff\xfe", "UTF-8"),
        (b"a=1&" * 600, "fields"),
        (b"x" * 70_000, "bytes"),
    ],
)
def test_a_malformed_body_is_a_webhook_error_that_says_why(raw: bytes, said: str) -> None:
    with pytest.raises(WebhookError, match=said) as caught:
        parse_audience_webhook(raw)

    assert isinstance(caught.value, ValueError)
    assert "a@b.io" not in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "form"),
    [
        (b"\xff\xfe", False),
        (b"a=1&" * 600, False),
        (b"x" * 70_000, False),
        (b"type=open&fired_at=2009-03-26+21:40:57", True),
        (b"type=subscribe&fired_at=2009-03-26T21:40:57Z&data[list_id]=x&data[email]=a@b.io", True),
        (b"type=subscribe&data=1&data[list_id]=x", True),
        (b"data[email]=a@b.io&data[email][x]=1", True),
        (b'{"type": "subscribe"}', True),
    ],
)
def test_only_a_body_that_is_not_form_data_is_not_a_form(raw: bytes, form: bool) -> None:
    with pytest.raises(WebhookError) as caught:
        parse_audience_webhook(raw)

    assert isinstance(caught.value, NotAForm) is not form
    assert "a@b.io" not in str(caught.value)


FIELD_NAMES = st.sampled_from(
    [
        "type",
        "fired_at",
        "data[list_id]",
        "data[email]",
        "data[reason]",
        "data[action]",
        "data[merges][FNAME]",
        "data[old_email]",
        "data[new_email]",
        "data[id]",
        "data",
        "data[merges]",
        "data[campaign_id]",
        "data[status]",
    ]
) | st.text(max_size=12)
VALUES = st.sampled_from(
    [
        "subscribe",
        "unsubscribe",
        "profile",
        "upemail",
        "cleaned",
        "campaign",
        "hard",
        "abuse",
        "delete",
        "2009-03-26 21:40:57",
        "a@b.io",
        "L1",
        "",
    ]
) | st.text(max_size=12)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=10))
def test_any_form_is_an_event_or_a_webhook_error(fields: list[tuple[str, str]]) -> None:
    try:
        event = parse_audience_webhook(urlencode(fields).encode())
    except WebhookError:
        return
    assert isinstance(event, AudienceEvent)
    assert event.fired_at.tzinfo is not None


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_an_event_or_a_webhook_error(raw: bytes) -> None:
    with contextlib.suppress(WebhookError):
        parse_audience_webhook(raw)


def test_a_signup_and_a_campaign_unsubscribe_have_the_pulls_ids() -> None:
    from collections import Counter

    from connectors.mailchimp.activity import SentCampaign
    from connectors.mailchimp.attributes import MAILCHIMP_ATTRIBUTES
    from connectors.mailchimp.departures import departure_activity
    from connectors.mailchimp.members import member_records

    signup = parse_audience_webhook(body("subscribe", list_id=LIST, email="Jane@X.io", id="x"))
    pulled = {"email_address": "Jane@X.io", "status": "subscribed",
              "timestamp_opt": FIRED.isoformat()}  # fmt: skip
    _, [pulled_signup] = member_records(pulled, LIST, MAILCHIMP_ATTRIBUTES)
    assert signup.activity is not None and signup.activity.id == pulled_signup.id
    assert signup.contact_id == pulled_signup.contact_id

    unsub = parse_audience_webhook(
        body("unsubscribe", list_id=LIST, email="Jane@X.io", action="unsub", campaign_id="c1")
    )
    campaign = SentCampaign("c1", LIST, datetime(2009, 3, 1, tzinfo=UTC))
    report = {"email_address": "Jane@X.io", "timestamp": FIRED.isoformat()}
    departed = departure_activity(campaign, T.EMAIL_UNSUBSCRIBE, report, Counter())
    assert unsub.activity is not None and departed is not None
    assert unsub.activity.id == departed.id
    assert unsub.activity.contact_id == departed.contact_id == ""

    # an unsubscribe in the audience, with no campaign, is read by no pull: its own id
    plain = parse_audience_webhook(body("unsubscribe", list_id=LIST, email="Jane@X.io"))
    assert plain.activity is not None and plain.activity.id.startswith("mcwh:unsubscribe:")
