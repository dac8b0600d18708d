"""The rule files' cache: a validated file's plain data kept beside it, which only skips
YAML, never a check; anything odd in it is ignored and the file read in full."""

from __future__ import annotations

import json
import math
import shutil
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import scoring.rulecache
import scoring.yamlrules
from scoring import RuleFileError, RuleSet, load_rules
from scoring.rulecache import FOLDER, cache_key, entry_path, remember

DEFAULT = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "leadscore.yaml"
    shutil.copyfile(DEFAULT, path)
    return path


def entry(path: Path) -> Path:
    key = cache_key(path.read_bytes())
    assert key is not None
    return entry_path(path, key)


def no_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any YAML reading fail, so a load that succeeds came from the cache."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("YAML read although the cache holds the file")

    monkeypatch.setattr(scoring.yamlrules.yaml, "compose", refuse)


def test_a_validated_file_is_kept_and_read_back_equal_without_yaml(
    rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = load_rules(rules)
    assert entry(rules).is_file()

    no_yaml(monkeypatch)
    again = load_rules(rules)

    assert again == first
    assert again.model_dump() == first.model_dump()


def test_a_changed_file_is_read_in_full_and_its_old_entry_goes(rules: Path) -> None:
    load_rules(rules)
    old = entry(rules)
    rules.write_text(rules.read_text("utf-8").replace("points: 20", "points: 21", 1), "utf-8")

    changed = load_rules(rules)

    assert entry(rules) != old and entry(rules).is_file() and not old.exists()
    assert changed != load_rules(DEFAULT)


def test_a_file_with_problems_is_never_kept(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - id: x\n    points: ten\n", "utf-8")

    with pytest.raises(RuleFileError):
        load_rules(path)

    assert not (tmp_path / FOLDER).exists()


@pytest.mark.parametrize(
    "kept",
    [
        b"not json",
        b"[1, 2]",
        b'{"rules": [{"id": "x", "points": "ten"}]}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_an_entry_that_is_not_valid_rules_is_ignored_and_the_file_read_in_full(
    rules: Path, kept: bytes
) -> None:
    expected = load_rules(rules)
    entry(rules).write_bytes(kept)

    assert load_rules(rules) == expected


def test_an_entry_for_a_file_with_problems_does_not_hide_them(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  - id: x\n    points: ten\n", "utf-8")
    target = entry(path)
    target.parent.mkdir()
    target.write_text(json.dumps({"rules": [{"id": "x", "points": "ten"}]}), "utf-8")

    with pytest.raises(RuleFileError) as caught:
        load_rules(path)

    assert str(caught.value.problems[0]).startswith(f"{path}:3: rules[0].points:")


def test_a_folder_that_cannot_be_written_is_no_error(
    rules: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_only(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Read-only file system")

    monkeypatch.setattr(scoring.rulecache.tempfile, "NamedTemporaryFile", read_only)

    assert load_rules(rules) == load_rules(DEFAULT)
    assert not entry(rules).exists()


def test_data_json_cannot_hold_exactly_is_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_bytes(b"x")

    remember(path, b"x", {1: "an integer key"})
    remember(path, b"x", {"when": date(2026, 1, 1)})
    remember(path, b"x", {"points": math.inf})

    assert not entry(path).exists()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=2_000))
def test_any_bytes_in_an_entry_give_the_rules_of_the_file(
    tmp_path_factory: pytest.TempPathFactory, kept: bytes
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "leadscore.yaml"
    shutil.copyfile(DEFAULT, path)
    target = entry(path)
    target.parent.mkdir()
    target.write_bytes(kept)

    found = load_rules(path)  # never an error: the file's rules, or the entry's if valid

    try:
        kept_rules = RuleSet.model_validate(json.loads(kept))
    except ValueError:
        assert found == load_rules(DEFAULT)
    else:
        assert found == kept_rules
