"""Mailchimp's settings section: both ways in, checked before any call, secrets never echoed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.mailchimp.settings import MailchimpSettings, key_problem

KEY = "0123456789abcdef0123456789abcdef-us21"


def refusal(**values: object) -> str:
    """What the settings loader shows of a refusal: each error's setting and message
    (`sync.config.setting_problem`; pydantic's own text would quote the input)."""
    with pytest.raises(ValidationError) as caught:
        MailchimpSettings.model_validate(values)
    return "\n".join(
        f"{'.'.join(map(str, e['loc'])) or 'mailchimp'}: {e['msg']}"
        for e in caught.value.errors(include_url=False)
    )


def test_an_api_key_gives_its_data_centre_and_configures_the_account() -> None:
    settings = MailchimpSettings.model_validate({"api_key": f"  {KEY} "})
    assert settings.configured
    assert settings.data_centre == "us21"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == KEY
    assert settings.tags is True and settings.audiences == []


def test_an_access_token_with_its_server_configures_the_account() -> None:
    settings = MailchimpSettings.model_validate({"access_token": "tok3n", "server": "US4"})
    assert settings.configured and settings.data_centre == "us4"


def test_nothing_set_is_not_configured_and_blanks_are_unset() -> None:
    assert not MailchimpSettings().configured
    assert not MailchimpSettings.model_validate({"api_key": " ", "base_url": ""}).configured


@pytest.mark.parametrize(
    "key",
    [
        "0123456789abcdef0123456789abcdef",  # no data centre
        "0123456789abcdef-",  # empty data centre
        "-eu7",  # nothing before it
        "0123456789abcdef-21us",  # digits first
        "0123 456789abcdef-us21",  # a space
        "0123456789abcdef-us21!",
    ],
)
def test_a_key_of_the_wrong_shape_is_refused_without_repeating_it(key: str) -> None:
    message = refusal(api_key=key)
    assert "api_key" in message
    head = key.rsplit("-", 1)[0]
    assert key not in message and (not head or head not in message)
    assert key_problem(key) is not None


def test_a_good_key_has_no_problem() -> None:
    assert key_problem(KEY) is None
    assert key_problem("sandbox-key-us1") is None


def test_a_token_needs_its_server_and_the_two_ways_in_do_not_mix() -> None:
    assert "server is required" in refusal(access_token="secret-token-value")
    both = refusal(api_key=KEY, access_token="secret-token-value", server="us21")
    assert "not both" in both
    assert KEY not in both and "secret-token-value" not in both
    assert "server" in refusal(access_token="secret-token-value", server="21")
    assert "data centre" in refusal(api_key=KEY, server="us4")
    assert "no spaces" in refusal(access_token="Bearer abc", server="us4")


def test_audiences_are_read_from_json_or_commas_and_checked() -> None:
    listed = MailchimpSettings.model_validate({"api_key": KEY, "audiences": "a1b2, c3d4,a1b2"})
    assert listed.audiences == ["a1b2", "c3d4"]
    as_json = MailchimpSettings.model_validate({"api_key": KEY, "audiences": '["x9"]'})
    assert as_json.audiences == ["x9"]
    assert "audiences" in refusal(api_key=KEY, audiences=["a/b"])


def test_base_url_and_timeout_are_checked() -> None:
    assert "base_url" in refusal(api_key=KEY, base_url="127.0.0.1:8080")
    assert "timeout" in refusal(api_key=KEY, timeout=0)
    assert "timeout" in refusal(api_key=KEY, timeout=500)
    ok = MailchimpSettings.model_validate({"api_key": KEY, "base_url": "http://127.0.0.1:9"})
    assert ok.base_url == "http://127.0.0.1:9"


def test_the_repr_holds_no_secret() -> None:
    settings = MailchimpSettings.model_validate({"api_key": KEY})
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
