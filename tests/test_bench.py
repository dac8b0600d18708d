"""The benchmarks: the HubSpot sync bench's model of the fewest calls, the engine bench and
the fault campaign at their smallest (the benches themselves take minutes)."""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy


def bench_module() -> ModuleType:
    path = Path(__file__).parents[1] / "bench" / "hubspot_sync.py"
    spec = importlib.util.spec_from_file_location("hubspot_sync_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WORLD = {
    "contacts": 3000,
    "events": 23_691,
    "objects": {"deals": 412, "meetings": 823, "calls": 2803, "emails": 409},
    "submissions": [120, 51, 0, 40, 7],
    "views": None,
}


def test_the_minimum_reads_every_stream_the_connector_pulls() -> None:
    bench = bench_module()
    full = bench.stream_calls(WORLD, full=True)
    # contacts 15 + newest 1; events 24; each object type's list pages of 100 (5, 9,
    # 29, 5), the pipelines and the archived deals' list; forms 1 and their submissions
    # (3+2+1+1+1); the refused page-views call
    assert full == 16 + 24 + (5 + 9 + 29 + 5) + 1 + 1 + 1 + 8 + 1


def test_a_quiet_run_reads_one_page_of_each_stream() -> None:
    bench = bench_module()
    # ... and the archived deals' list, which every pull of deals reads first
    assert bench.stream_calls(WORLD, full=False) == 2 + 1 + 4 + 1 + 6 + 0 + 2 + 1
    assert bench.stream_calls({**WORLD, "views": 10}, full=False) == 18


def test_the_fault_campaign_runs_small_and_finds_every_contact_as_a_clean_run_left_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = Path(__file__).parents[1] / "bench" / "faults.py"
    spec = importlib.util.spec_from_file_location("faults_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        code = module.main(["--people", "20", "--seeds", "1", "--kills", "0"])
    finally:
        del sys.modules[spec.name]
    out = capsys.readouterr().out

    assert code == 0, out
    rows = {tuple(re.split(r"\s{2,}", line)[:2]) for line in out.splitlines()}
    for system in ("HubSpot", "Salesforce"):
        for scenario in ("clean (reference)", "heavy faults", "truncated replies", "lost replies"):
            assert (system, scenario) in rows, out
    assert "kill -9" not in out


def engine_bench() -> ModuleType:
    path = Path(__file__).parents[1] / "bench" / "engine.py"
    spec = importlib.util.spec_from_file_location("engine_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_engine_bench_runs_small_both_sides_cold_and_their_totals_agree(
    capsys: pytest.CaptureFixture[str],
) -> None:
    try:
        code = engine_bench().main(["--size", "400", "--runs", "1", "--rules", "40,100"])
    finally:
        del sys.modules["engine_bench"]
    out = capsys.readouterr().out

    assert code == 0, out
    assert "same rows as the engine's filter" in out
    assert "400 / 0.0M            40" in out and "400 / 0.0M           100" in out
    assert "agree on every line" in out


def test_the_engine_bench_fails_when_the_engine_and_the_baseline_disagree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    realistic = Path(__file__).parents[1] / "bench" / "rules_realistic.yaml"
    text = realistic.read_text("utf-8")
    assert (
        "contact: {industry: [Software, Financial services, Professional services]}, points: 15}"
        in text
    )
    changed = tmp_path / "rules.yaml"
    changed.write_text(
        text.replace(
            "Professional services]}, points: 15}", "Professional services]}, points: 16}"
        ),
        "utf-8",
    )
    try:
        code = engine_bench().main(
            ["--size", "400", "--runs", "1", "--rules", "40", "--rule-file", str(changed)]
        )
    finally:
        del sys.modules["engine_bench"]
    out = capsys.readouterr().out

    assert code == 1, out
    assert "check      FAILED at 400 / 0.0M, 40 rules: engine and baseline disagree on" in out


def test_the_files_bench_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).parents[1] / "bench" / "files.py"
    spec = importlib.util.spec_from_file_location("files_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    code = module.main(
        ["--contacts", "200", "--activities", "2000", "--runs", "1", "--formats", "csv"]
    )
    out = capsys.readouterr().out

    assert code == 0, out
    assert "200 contacts, 2,000 activities" in out
    assert "leadscore score (whole process)" in out and "ratio" in out and "goal at most 2" in out


def test_the_due_bench_builds_its_store_in_bulk_as_the_store_would_have(tmp_path: Path) -> None:
    path = Path(__file__).parents[1] / "bench" / "due.py"
    spec = importlib.util.spec_from_file_location("due_bench", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # persons' count of marks (`sync.dues`) is the store's bookkeeping, not its content
    tables = {
        "persons": "id, email, due",
        "identities": "*",
        "activities": "*",
        "aliases": "*",
        "written": "*",
    }

    def rows(url: str) -> dict[str, list[tuple[object, ...]]]:
        engine = sqlalchemy.create_engine(url)
        with engine.connect() as connection:
            found = {
                t: sorted(
                    map(tuple, connection.execute(sqlalchemy.text(f"SELECT {c} FROM {t}"))),
                    key=repr,
                )
                for t, c in tables.items()
            }
        engine.dispose()
        return found

    bulk, slow = f"sqlite:///{tmp_path / 'bulk.db'}", f"sqlite:///{tmp_path / 'slow.db'}"
    assert bench.build(bulk, 120, 3) == bench.build(slow, 120, 3, bulk=False)
    assert rows(bulk) == rows(slow)


def test_the_salesforce_bench_writes_every_record_by_both_paths_at_the_fewest_calls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported by name, so that the sandbox's own process (spawned) finds `serve` too.
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "bench"))
    module = importlib.import_module("salesforce_sync")
    try:
        module.main(["--contacts", "150", "--scale", "20"])
    finally:
        sys.modules.pop("salesforce_sync", None)
    out = capsys.readouterr().out

    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].islower()}
    collections, bulk = rows["collections"], rows["bulk"]
    written = int(collections[1].replace(",", ""))
    assert written > 50 and bulk[1] == collections[1]
    assert collections[2] == collections[3] == str(-(-written // 200))  # calls at the minimum
    assert int(bulk[3]) == 2 * 4  # a Lead job and a Contact job: create, upload, close, a poll


def test_the_mailchimp_bench_writes_every_member_by_both_paths(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Imported by name, so that the sandbox's own process (spawned) finds `serve` too.
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "bench"))
    module = importlib.import_module("mailchimp_sync")
    try:
        module.main(["--members", "300", "--direct", "30", "--scale", "20", "--latency", "0.05"])
    finally:
        sys.modules.pop("mailchimp_sync", None)
    out = capsys.readouterr().out

    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:1].islower()}
    batches, direct = rows["batches"], rows["direct"]
    assert int(batches[1].replace(",", "")) > 150 and int(direct[1]) > 10
    assert direct[2] == direct[3]  # call by call: a PATCH and a tags POST each, and one read
    assert int(batches[3]) == 4  # one batch: start, a status read, download; one tags read


def validity_bench() -> Any:
    """`bench/validity.py` as a module."""
    path = Path(__file__).parents[1] / "bench" / "validity.py"
    spec = importlib.util.spec_from_file_location("validity_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_validity_bench_skips_every_data_set_that_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = validity_bench()

    assert module.main(["--data", str(tmp_path)]) == 0

    printed = capsys.readouterr().out
    assert printed.count("skipped:") == 3 and "AUC" in printed


def test_the_validity_bench_backtests_a_small_bank_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = validity_bench()
    folder = tmp_path / "uci-bank-marketing"
    folder.mkdir()
    head = '"age";"job";"duration";"pdays";"previous";"y"\n'
    rows = [
        f'{30 + i};"{job}";{100 + i};{pdays};{previous};"{y}"\n'
        for i, (job, pdays, previous, y) in enumerate(
            [("management", 3, 1, "yes"), ("student", 999, 0, "no"), ("admin.", 999, 0, "no"),
             ("entrepreneur", 10, 2, "yes"), ("admin.", 999, 0, "no"), ("services", 999, 0, "no")]
        )
    ]  # fmt: skip
    (folder / "bank-additional-full.csv").write_text(head + "".join(rows), "utf-8")

    assert module.main(["--data", str(tmp_path), "--resamples", "10"]) == 0

    printed = capsys.readouterr().out
    assert "UCI Bank Marketing" in printed and "skipped" in printed
    bank = next(line for line in printed.splitlines() if line.startswith("UCI Bank"))
    assert "6" in bank and "33.3%" in bank


def test_the_validity_bench_runs_only_the_data_sets_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = validity_bench()

    assert module.main(["--data", str(tmp_path), "--only", "BANK"]) == 0

    printed = capsys.readouterr().out
    assert printed.count("skipped:") == 1 and "UCI Bank Marketing" in printed


def test_contacts_with_the_same_columns_and_activities_share_an_input_group(
    tmp_path: Path,
) -> None:
    module = validity_bench()
    contacts, activities = tmp_path / "contacts.csv", tmp_path / "activities.csv"
    contacts.write_text("id,converted,country\n1,1,FR\n2,0,FR\n3,0,FR\n4,0,DE\n5,1,FR\n", "utf-8")
    activities.write_text(
        "contact_id,type,occurred_at\n"
        "1,page_view,2026-01-01\n2,page_view,2026-01-01\n3,page_view,2026-01-02\n",
        "utf-8",
    )

    groups = module.input_groups(contacts, activities).tolist()

    # 1 and 2 differ only in id and outcome; 3's activity is a day later; 5 has none
    assert groups[0] == groups[1]
    assert len({groups[0], groups[2], groups[3], groups[4]}) == 4


def test_the_validity_bench_fits_a_time_ordered_set_with_time_ordered_folds_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    import scoring
    from scoring.errors import InputError

    module = validity_bench()
    source = tmp_path / "bank.csv"
    head = '"age";"job";"duration";"pdays";"previous";"y"\n'
    rows = [
        f'{20 + i % 50};"admin.";100;999;0;"{"yes" if i % 4 == 0 else "no"}"\n' for i in range(250)
    ]
    source.write_text(head + "".join(rows), "utf-8")
    contacts, activities = module.bank_marketing(source, tmp_path)
    seen: list[object] = []

    def refusing(*args: object, times: object = None, **kwargs: object) -> object:
        seen.append(times)
        raise InputError("nothing better than chance")

    monkeypatch.setattr(scoring, "calibrate_rules", refusing)

    for time_folds in (False, True):
        found = module.validity(contacts, activities, True, time_folds=time_folds)
        assert found == "no fit: nothing better than chance"

    # the fitted 80 %, in file order, as their times; without the flag none
    assert seen[0] is None
    assert isinstance(seen[1], np.ndarray) and seen[1].tolist() == list(range(200))
