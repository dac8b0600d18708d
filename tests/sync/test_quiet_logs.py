"""Logs and run summaries name people by id at INFO: no address, no attribute value."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import RuleSet, load_rules, parse_rules
from sync import Leadscore, StateStore, SyncOptions
from sync.demo import sandbox_settings
from sync.logs import JsonFormatter, configure
from sync.schema import persons
from tests.sync.test_sync_hubspot import RULES


class Raw(logging.Handler):
    """Every record at INFO and above as the code logged it, before any handler's filter."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


@pytest.fixture
def raw() -> Iterator[Raw]:
    """`configure`'s JSON handler at INFO, and a `Raw` one before it; put back afterwards."""
    logger = logging.getLogger("leadscore")
    before = (list(logger.handlers), logger.level, logger.propagate)
    configure("json", "INFO")
    seen = Raw()
    logger.handlers.insert(0, seen)
    yield seen
    logger.handlers[:], logger.level, logger.propagate = before


def leaked(texts: Iterable[str], addresses: Iterable[str]) -> list[str]:
    """The addresses that appear in any of the texts."""
    text = "\n".join(texts).lower()
    return sorted(a for a in addresses if a.lower() in text)


def test_a_sandbox_sync_logs_and_records_no_address_or_attribute_value(
    raw: Raw, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = load_rules(RULES)
    # a rule comparing job titles as numbers: the run warns of values that are no number
    odd = parse_rules(
        RULES.read_text().replace("employees: {gte: 1000}", "job_title: {gte: 1000}"), "odd.yaml"
    )
    body = rules.model_dump(exclude_unset=True)
    shadow = RuleSet.model_validate({**body, "rules": body["rules"][::2]})
    with Sandbox(people=80, seed=6) as box:
        settings = sandbox_settings(
            box, f"sqlite:///{tmp_path / 's.db'}", systems=("hubspot", "mailchimp")
        )
        at = box.now() + timedelta(hours=1)
        with Leadscore.open(settings, rules=odd, clock=lambda: at, pace=box.clock) as app:
            app.setup()
            first = app.sync(SyncOptions(full=True, shadow=shadow))
            second = app.sync(SyncOptions(shadow=shadow))
            store: StateStore = app.store
            with store.engine.connect() as connection:
                addresses = set(connection.execute(sa.select(persons.c.email)).scalars()) - {None}
            summaries = [json.dumps(run.summary) for run in store.runs(5)]

    emitted = capsys.readouterr().err
    assert len(addresses) > 50 and first.shadow is not None and first.shadow.movers
    assert any(m.email for m in first.shadow.movers)  # the terminal's comparison shows them
    assert any("job_title" in w for w in second.warnings + first.warnings)
    assert '"sync finished"' in emitted and len(raw.texts) >= 2
    assert leaked(raw.texts, addresses) == []
    assert leaked([emitted], addresses) == []
    assert leaked(summaries, addresses) == [] and len(summaries) == 2
    assert not any("(e.g." in text for text in [*summaries, *raw.texts])


def test_an_address_logged_at_info_is_caught_and_masked_and_debug_says_it_may_carry_them(
    raw: Raw, capsys: pytest.CaptureFixture[str]
) -> None:
    log = logging.getLogger("leadscore.sync")

    log.info("written to %s", "ann@acme.io", extra={"who": {"to": ["bo@acme.io"]}})

    assert leaked(raw.texts, ["ann@acme.io", "bo@acme.io"]) == ["ann@acme.io", "bo@acme.io"]
    emitted = capsys.readouterr().err
    assert leaked([emitted], ["ann@acme.io", "bo@acme.io"]) == []
    assert json.loads(emitted)["who"] == {"to": ["<address>"]}
    configure("json", "DEBUG")
    log.debug("written to %s", "ann@acme.io")
    debug = capsys.readouterr().err
    assert "DEBUG logs may carry contact addresses and attributes" in debug
    assert "ann@acme.io" in debug
