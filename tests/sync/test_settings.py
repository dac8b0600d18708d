"""Settings: the HubSpot token from the environment or a secrets directory, and never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from sync.settings import Settings, load_settings

TOKEN = "pat-na1-0123456789-secret"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No developer's `.env` or `LEADSCORE_*` variables reach these tests."""
    for name in list(os.environ):
        if name.upper().startswith("LEADSCORE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def secrets_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **files: str) -> None:
    directory = tmp_path / "secrets"
    directory.mkdir()
    for name, text in files.items():
        (directory / name).write_text(text, "utf-8")
    monkeypatch.setenv("LEADSCORE_SECRETS_DIR", str(directory))


def token_of(settings: Settings) -> str | None:
    secret = settings.hubspot.access_token
    return None if secret is None else secret.get_secret_value()


def test_the_hubspot_token_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", TOKEN)

    assert token_of(load_settings()) == TOKEN


def test_the_hubspot_token_is_read_from_a_secret_file_named_like_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets_dir(monkeypatch, tmp_path, LEADSCORE_HUBSPOT__ACCESS_TOKEN=f"{TOKEN}\n")

    assert token_of(load_settings()) == TOKEN


def test_a_secret_file_may_also_hold_the_whole_hubspot_section_as_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets_dir(monkeypatch, tmp_path, LEADSCORE_HUBSPOT=f'{{"access_token": "{TOKEN}"}}')

    assert token_of(load_settings()) == TOKEN


def test_the_environment_wins_over_the_secrets_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    secrets_dir(monkeypatch, tmp_path, LEADSCORE_HUBSPOT__ACCESS_TOKEN="from-the-file")
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", TOKEN)

    assert token_of(load_settings()) == TOKEN


def test_a_secret_file_not_utf8_or_empty_is_a_named_error_not_a_traceback(
    clean_environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.config import read_settings
    from sync.errors import ConfigError

    secrets_dir(monkeypatch, clean_environment, LEADSCORE_STATE_URL=" \n")
    folder = clean_environment / "secrets"
    (folder / "LEADSCORE_HUBSPOT__ACCESS_TOKEN").write_bytes(b"\xff\xfe")
    with pytest.raises(ConfigError) as caught:
        read_settings()
    assert caught.value.lines == [
        f"LEADSCORE_SECRETS_DIR: {folder / 'LEADSCORE_HUBSPOT__ACCESS_TOKEN'}: expected UTF-8 text",
        f"LEADSCORE_SECRETS_DIR: {folder / 'LEADSCORE_STATE_URL'}: the file is empty",
    ]


def test_a_dotenv_file_in_the_working_directory_is_read(clean_environment: Path) -> None:
    (clean_environment / ".env").write_text(
        f"LEADSCORE_HUBSPOT__ACCESS_TOKEN={TOKEN}\nLEADSCORE_HUBSPOT__TIER=starter\n", "utf-8"
    )

    settings = load_settings()

    assert (token_of(settings), settings.hubspot.tier) == (TOKEN, "starter")


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_token_means_hubspot_is_not_configured(
    monkeypatch: pytest.MonkeyPatch, blank: str
) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", blank)

    assert load_settings().hubspot.access_token is None


def test_without_any_setting_hubspot_is_not_configured() -> None:
    assert load_settings().hubspot.access_token is None


def test_a_tier_with_the_api_add_on_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__TIER", "starter+api_addon")

    assert load_settings().hubspot.tier == "starter+api_addon"


def test_an_unknown_tier_fails_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__TIER", "platinum")

    with pytest.raises(ValidationError) as failure:
        load_settings()

    assert [error["loc"] for error in failure.value.errors()] == [("hubspot", "tier")]
    assert "hubspot.tier" in str(failure.value)
    assert "free, starter, professional" in str(failure.value)


def test_the_token_never_shows_in_the_settings_repr_or_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", TOKEN)

    settings = load_settings()

    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings)
    assert TOKEN not in repr(settings.hubspot)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LEADSCORE_HUBSPOT__TIER", "platinum"),
        ("LEADSCORE_LOG_LEVEL", "LOUD"),
        ("LEADSCORE_FIELD_PREFIX", "9lives"),
    ],
)
def test_the_token_never_shows_in_the_error_about_another_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as failure:
        load_settings()

    assert value in str(failure.value)
    assert TOKEN not in str(failure.value)
    assert TOKEN not in repr(failure.value.errors())


def test_settings_built_directly_carry_every_registered_system_section() -> None:
    from connectors.registry import SYSTEMS

    settings = Settings(hubspot={"access_token": TOKEN})

    assert {entry.name for entry in SYSTEMS} <= set(type(settings).model_fields)
    assert settings.section("hubspot").configured


def test_isolated_settings_read_nothing_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sync.settings import isolated_settings

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("LEADSCORE_FIELD_PREFIX=from_dotenv_\n", "utf-8")
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("LEADSCORE_HUBSPOT__LIFECYCLE_STAGES", '{"Lead": "lead"}')

    settings = isolated_settings(state_url="sqlite://")

    assert settings.field_prefix == "leadscore_"
    assert not settings.section("hubspot").configured
    assert settings.section("hubspot").stage_mapping() == {}


@pytest.mark.parametrize(
    "pasted", [" s3cret-report-token ", "s3cret-report-token\n", "\ts3cret-report-token"]
)
def test_a_report_token_pasted_with_spaces_around_it_is_the_token(
    monkeypatch: pytest.MonkeyPatch, pasted: str
) -> None:
    # the Authorization header's token is trimmed; the setting must be too, or nothing opens
    monkeypatch.setenv("LEADSCORE_REPORT_TOKEN", pasted)
    token = Settings().report_token
    assert token is not None and token.get_secret_value() == "s3cret-report-token"


def test_the_model_built_once_still_reads_the_environment_of_each_build(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", "pat-first")
    monkeypatch.setenv("LEADSCORE_FIELD_PREFIX", "first_")
    first = Settings()
    monkeypatch.setenv("LEADSCORE_HUBSPOT__ACCESS_TOKEN", "pat-second")
    monkeypatch.delenv("LEADSCORE_FIELD_PREFIX")
    second = Settings()
    assert type(first) is type(second)  # the one model
    token = first.section("hubspot").access_token  # type: ignore[attr-defined]
    assert token.get_secret_value() == "pat-first" and first.field_prefix == "first_"
    token = second.section("hubspot").access_token  # type: ignore[attr-defined]
    assert token.get_secret_value() == "pat-second" and second.field_prefix != "first_"
    assert first.section("hubspot") is not second.section("hubspot")
