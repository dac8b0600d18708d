"""`leadscore backtest --from-store` and `calibrate --from-store` after a sandbox sync:
outcomes from what the store recorded, nothing after the score date scored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sandbox import Sandbox
from scoring import TYPE_CODES, ActivityFrame, ActivityType, load_rules, score
from scoring.subsets import take_column
from sync import from_store
from sync.cli import app
from sync.store import StateStore
from sync.store_outcomes import read_store_outcomes, store_outcome
from tests.helpers import unwrapped
from tests.sync.cli_env import DEFAULT_RULES, hubspot_env

runner = CliRunner()


@dataclass(frozen=True)
class Synced:
    env: dict[str, str]
    folder: Path
    synced_at: datetime


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """A store filled by a full sync of a HubSpot sandbox (once for the module)."""
    folder = tmp_path_factory.mktemp("fromstore")
    with Sandbox(people=120, seed=8) as box, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # no developer's .env
        env = hubspot_env(box, folder)
        assert runner.invoke(app, ["setup"], env=env).exit_code == 0
        result = runner.invoke(app, ["sync", "--full"], env=env)
        assert result.exit_code == 0, result.output
        yield Synced(env, folder, datetime.now(UTC))


@pytest.fixture
def env(synced: Synced, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(synced.folder)
    return synced.env


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def backtest(env: dict[str, str], *args: str, rules: Path = DEFAULT_RULES) -> dict:  # type: ignore[type-arg]
    result = run(
        env, "backtest", "--rules", str(rules), "--from-store", "--json", "--resamples", "10",
        *args,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report: dict = json.loads(result.stdout)  # type: ignore[type-arg]
    return report


def stored(env: dict[str, str]) -> StateStore:
    return StateStore(env["LEADSCORE_STATE_URL"])


def purchases(env: dict[str, str], start: float, end: float) -> tuple[int, int, int]:
    """Persons kept (first activity by `start`, or none), those with a purchase in the
    window, and those who had bought by `start`: counted apart from the command."""
    people = stored(env).load_people()
    columns = people.columns
    kept = bought = before = 0
    for contact in people.contacts:
        mine = columns.person == int(contact.id)
        times = columns.occurred_at[mine]
        if times.size and times.min() > start:
            continue
        kept += 1
        sold = times[columns.type_codes[mine] == TYPE_CODES[ActivityType.PURCHASE]]
        bought += bool(((sold > start) & (sold <= end)).any())
        before += bool((sold <= start).any())
    return kept, bought, before


def seconds(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_won_is_a_purchase_in_the_window_after_the_score_date(env: dict[str, str]) -> None:
    report = backtest(env, "--outcome", "won", "--as-of", "2026-01-01", "--within-days", "300")

    kept, bought, _ = purchases(env, seconds("2026-01-01T00:00:00+00:00"),
                                seconds("2026-10-28T00:00:00+00:00"))  # fmt: skip
    assert (report["contacts"], report["converted"]) == (kept, bought)
    assert 0 < bought < kept


def test_customer_leaves_out_who_had_bought_by_the_score_date(env: dict[str, str]) -> None:
    won = backtest(env, "--outcome", "won", "--as-of", "2026-03-01", "--within-days", "240")
    report = backtest(env, "--outcome", "customer", "--as-of", "2026-03-01", "--within-days", "240")

    start = seconds("2026-03-01T00:00:00+00:00")
    kept, _, before = purchases(env, start, start + 240 * 86_400)
    assert before > 0
    assert report["contacts"] == kept - before == won["contacts"] - before
    assert report["converted"] <= won["converted"]


def test_a_stage_reached_is_read_from_the_score_history(
    env: dict[str, str], synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(from_store, "utc_now", lambda: synced.synced_at + timedelta(days=3))
    with stored(env).engine.connect() as connection:
        stages = dict(
            connection.exec_driver_sql("SELECT stage, count(*) FROM history GROUP BY stage").all()
        )

    report = backtest(env, "--outcome", "stage:marketing qualified", "--within-days", "7")

    reached = sum(
        stages.get(name, 0) for name in ("Marketing qualified", "Sales qualified", "Opportunity",
                                         "Customer")
    )  # fmt: skip
    assert report["converted"] == reached > 0


def test_nothing_after_the_score_date_is_scored(env: dict[str, str]) -> None:
    rules = load_rules(DEFAULT_RULES)
    at = datetime(2026, 6, 1, tzinfo=UTC)
    found = read_store_outcomes(stored(env), rules, store_outcome("won", rules), at, 90)
    acts = found.activities
    early = np.flatnonzero(acts.occurred_at <= at.timestamp())
    assert len(early) < len(acts)  # some activities are later than the score date
    only_early = ActivityFrame(
        acts.contact_rows[early], acts.type_codes[early], acts.occurred_at[early],
        {name: take_column(column, early) for name, column in acts.columns.items()},
    )  # fmt: skip
    whole = score(rules, found.contacts, acts, at)
    before = score(rules, found.contacts, only_early, at)

    later = score(rules, found.contacts, acts, at + timedelta(days=150))

    assert whole.total.tolist() == before.total.tolist()
    assert later.total.tolist() != whole.total.tolist()  # the later activities do count then


def test_excluded_persons_are_left_out(env: dict[str, str], tmp_path: Path) -> None:
    default = load_rules(DEFAULT_RULES)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    found = read_store_outcomes(stored(env), default, store_outcome("won", default), at, 300)
    (person,) = stored(env).load_people([int(found.contacts.ids[0])]).contacts
    address = person.email
    assert address
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        DEFAULT_RULES.read_text("utf-8") + f"\nexclude:\n  emails: [{address}]\n", "utf-8"
    )
    args = ("--outcome", "won", "--as-of", "2026-01-01", "--within-days", "300")

    everyone = backtest(env, *args)
    result = run(env, "backtest", "--rules", str(rules), "--from-store", "--json",
                 "--resamples", "10", *args)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["contacts"] == everyone["contacts"] - 1
    assert "1 contacts excluded by the rules" in unwrapped(result.stderr)


def test_calibrate_fits_a_valid_file_to_a_stage_reached(
    env: dict[str, str], synced: Synced, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(from_store, "utc_now", lambda: synced.synced_at + timedelta(days=3))
    out = tmp_path / "fitted.yaml"

    result = run(env, "calibrate", "--rules", str(DEFAULT_RULES), "--from-store",
                 "--outcome", "stage:Lead", "--within-days", "7", "--out", str(out),
                 "--resamples", "10")  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "on the state store" in out.read_text("utf-8")
    assert "outcome 'stage:Lead'" in out.read_text("utf-8")
    assert run(env, "validate", str(out)).exit_code == 0
    assert "Backtest on the" in result.stdout


def test_calibrate_keeps_rfm_and_accounts_and_backtests_with_them(
    env: dict[str, str], synced: Synced, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(from_store, "utc_now", lambda: synced.synced_at + timedelta(days=3))
    out = tmp_path / "fitted.yaml"

    result = run(env, "calibrate", "--rules", str(_population_rules(tmp_path)), "--from-store",
                 "--outcome", "stage:Prospect", "--within-days", "7", "--out", str(out),
                 "--resamples", "10")  # fmt: skip

    assert result.exit_code == 0, result.output
    fitted = out.read_text("utf-8")
    assert "\nrfm:" in fitted and "\naccounts:" in fitted
    assert run(env, "validate", str(out)).exit_code == 0
    assert "Backtest on the" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--from-store", "--outcome", "won", "--contacts", "c.csv"),
         "--contacts cannot go with --from-store"),
        (("--from-store", "--outcome", "won", "--as-of-column", "t"),
         "--as-of-column cannot go with --from-store"),
        (("--outcome", "won"), "give --contacts FILE (with --outcome COLUMN), or --from-store"),
        (("--contacts", "c.csv", "--outcome", "won", "--within-days", "9"),
         "--within-days needs --from-store"),
        (("--from-store", "--outcome", "converted"), "give one of won, customer, stage:NAME"),
        (("--from-store", "--outcome", "stage:Nope"), "no such stage in the rules"),
        (("--from-store", "--outcome", "won", "--as-of", "2099-01-01"),
         "after now; its outcomes are not known yet"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["backtest", "calibrate", "report"])
def test_bad_combinations_are_one_line_and_exit_2(
    env: dict[str, str], command: str, extra: tuple[str, ...], message: str
) -> None:
    if command == "report" and message.startswith("give --contacts"):  # --outcome optional
        message = "give --from-store or --contacts FILE"
    result = run(env, command, "--rules", str(DEFAULT_RULES), *extra)

    assert result.exit_code == 2, result.output
    assert result.output.count("error:") == 1
    assert message in unwrapped(result.output)


def test_the_report_draws_the_stores_outcomes_as_the_backtest_reads_them(
    env: dict[str, str], tmp_path: Path
) -> None:
    args = ("--outcome", "won", "--as-of", "2026-01-01", "--within-days", "300")
    out = tmp_path / "report.html"

    result = run(env, "report", "--rules", str(DEFAULT_RULES), "--from-store", *args,
                 "--out", str(out))  # fmt: skip

    assert result.exit_code == 0, result.output
    tested = backtest(env, *args)
    page = out.read_text("utf-8")
    for chart in ("lift", "roc", "calibration", "conversion", "movement"):
        assert f'id="chart-{chart}"' in page
    assert "Against outcomes (won)" in page and "scored as of 2026-01-01T00:00:00Z" in page
    assert f"{tested['converted']:,} of {tested['contacts']:,} contacts converted" in page
    assert f"ROC AUC {tested['auc']['value']:.3f} (" in page
    assert (
        f"the state store ({tested['contacts']:,} persons; outcome &#x27;won&#x27; in the 300 "
        "days after the score date), scored as of 2026-01-01T00:00:00Z" in page
    )
    assert "persons left out: their first activity is after the score date" in page
    said = unwrapped(result.stderr)
    assert "note: the state store:" in said and "note: not read: lifecycle_stage" in said
    assert f"({tested['contacts']:,} contacts;" in unwrapped(result.stdout)


def test_the_crms_lifecycle_fields_are_not_read(env: dict[str, str]) -> None:
    rules = load_rules(DEFAULT_RULES)
    held = {k for c in stored(env).load_people().contacts for k in c.attributes}
    at = datetime(2026, 6, 1, tzinfo=UTC)

    found = read_store_outcomes(stored(env), rules, store_outcome("won", rules), at, 90)
    result = run(env, "backtest", "--rules", str(DEFAULT_RULES), "--from-store",
                 "--outcome", "won", "--as-of", "2026-01-01", "--within-days", "300")  # fmt: skip

    assert "lifecycle_stage" in held
    assert found.unread == tuple(sorted(held & {"lifecycle_stage", "lifecyclestage"}))
    assert not set(found.unread) & set(found.contacts.columns)
    assert "industry" in found.contacts.columns
    assert "note: not read: lifecycle_stage" in unwrapped(result.stderr)


def _population_rules(folder: Path) -> Path:
    """The example's accounts rules with RFM by quintiles read by a rule."""
    text = (Path(__file__).parents[2] / "examples" / "accounts.yaml").read_text("utf-8")
    text = text.replace(
        "rules:\n", "rules:\n  - {id: buyer, contact: {rfm_f: {gte: 2}}, points: 15}\n", 1
    )
    rules = folder / "population.yaml"
    rules.write_text(text + "rfm: {}\n", "utf-8")
    return rules


def test_rfm_quintiles_and_accounts_take_the_stores_population_then(
    env: dict[str, str], tmp_path: Path
) -> None:
    from scoring import load_rules
    from sync.accounts import store_rollups
    from sync.rfm import population

    rules = _population_rules(tmp_path)
    args = ("--outcome", "won", "--as-of", "2026-07-01", "--within-days", "100")

    report = backtest(env, *args, rules=rules)

    assert report["contacts"] == backtest(env, *args)["contacts"]
    # the bounds and roll-ups it scored with: the whole store's, as of the score date
    ruleset, at = load_rules(rules), seconds("2026-07-01T00:00:00+00:00")
    store = stored(env)
    with store.engine.connect() as connection:
        bounds = population(connection, ruleset, at)
    rolled = store_rollups(store, ruleset, at)
    assert bounds is not None and bounds.people > 0  # purchasers by then
    assert rolled is not None and rolled[0].accounts
    # with each account's fit and stage, as a sync gives them (company records it kept)
    assert set(rolled[0].fit) == set(rolled[0].accounts) and rolled[0].stage
