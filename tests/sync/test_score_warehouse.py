"""`leadscore score` from and to a database (SQLite, and PostgreSQL where the suite runs one)
and Parquet: the same scores as from CSV, tables named in every message, no password shown."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import SqlSource, read_contact_columns
from sync.rulefile import rule_version
from tests.sync.test_cli import EXAMPLES, run

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
DATA = EXAMPLES / "data"
AS_OF = "2026-06-01T00:00:00Z"


def load(url: str, name: str, table: pa.Table) -> None:
    """A typed table in the database, through SQLAlchemy (not the code under test)."""

    def kind(field: pa.Field) -> Any:
        if pa.types.is_timestamp(field.type):
            return sa.DateTime(timezone=True)
        if pa.types.is_integer(field.type):
            return sa.BigInteger
        if pa.types.is_floating(field.type):
            return sa.Float
        return sa.Text

    engine = sa.create_engine(url)
    target = sa.Table(name, sa.MetaData(), *(sa.Column(f.name, kind(f)) for f in table.schema))
    with engine.begin() as connection:
        target.drop(connection, checkfirst=True)
        target.create(connection)
        if table.num_rows:
            connection.execute(sa.insert(target), table.to_pylist())
    engine.dispose()


def read_back(url: str, name: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.text(f"SELECT * FROM {name}"))]
    engine.dispose()
    return rows


def csv_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def norm(value: Any) -> Any:
    """A cell as CSV text and a typed table both give it: blank as None, numbers as floats
    (a bool is one: SQLite keeps booleans as 0 and 1)."""
    if value is None or value == "":
        return None
    if value in ("True", "False"):
        return value == "True"
    if isinstance(value, bool | int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return value


def same_rows(expected: list[dict[str, Any]], found: list[dict[str, Any]]) -> None:
    assert len(found) == len(expected)
    for want, got in zip(expected, found, strict=True):
        assert {k: norm(v) for k, v in want.items()} == {k: norm(got[k]) for k in want}


def typed(name: str) -> pa.Table:
    options = pacsv.ConvertOptions(strings_can_be_null=True)
    return pacsv.read_csv(DATA / f"{name}.csv", convert_options=options)


def score(*args: str, env: dict[str, str] | None = None) -> Any:
    result = run("score", "--rules", str(RULES), "--as-of", AS_OF, *args, env=env)
    return result


@pytest.fixture
def by_csv(tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "csv-scores.csv"
    result = score("-c", str(DATA / "contacts.csv"), "-a", str(DATA / "activities.csv"))
    result = score(
        "-c", str(DATA / "contacts.csv"), "-a", str(DATA / "activities.csv"), "-o", str(out)
    )
    assert result.exit_code == 0, result.stderr
    return csv_rows(out)


def test_tables_in_a_table_out_equal_the_csv_results(url: str, by_csv: list[dict]) -> None:
    load(url, "contacts", typed("contacts"))
    load(url, "activities", typed("activities"))

    result = score(
        "-c", "sql:contacts", "-a", "sql:activities", "--from-url", url, "-o", "sql:scored"
    )

    assert result.exit_code == 0, result.stderr
    assert "wrote 400 scored contacts to sql:scored" in result.stdout
    rows = read_back(url, "scored")
    same_rows(by_csv, rows)
    version = rule_version(RULES.read_text("utf-8"))
    assert {r["rules_version"] for r in rows} == {version}
    moments = {r["scored_at"] for r in rows}
    assert len(moments) == 1
    [moment] = moments
    if isinstance(moment, str):  # SQLite keeps it as ISO text, in UTC
        moment = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    assert moment == datetime(2026, 6, 1, tzinfo=UTC)


def test_queries_in_and_an_appended_run(url: str, by_csv: list[dict]) -> None:
    load(url, "people", typed("contacts"))
    load(url, "acts", typed("activities"))
    query = "SELECT * FROM people WHERE id IS NOT NULL"

    args = ["--contacts-query", query, "--activities-query", "SELECT * FROM acts"]
    first = score(*args, "--to-url", url, "-o", "sql:scored", env={"LEADSCORE_WAREHOUSE_URL": url})
    second = run(
        "score", "--rules", str(RULES), "--as-of", "2026-07-01T00:00:00Z", *args,
        "--from-url", url, "-o", "sql:scored", "--append",
    )  # fmt: skip

    assert first.exit_code == 0, first.stderr
    assert second.exit_code == 0, second.stderr
    rows = read_back(url, "scored")
    assert len(rows) == 800
    assert len({str(r["scored_at"]) for r in rows}) == 2
    # each run's rows carry its own id: appended runs tell apart
    assert [len({r["run_id"] for r in run}) for run in (rows[:400], rows[400:])] == [1, 1]
    assert rows[0]["run_id"] != rows[400]["run_id"]
    same_rows(by_csv, rows[:400])


@pytest.mark.parametrize("id_type", [pa.string(), pa.large_string()])
def test_parquet_in_and_out_equal_the_csv_results(
    tmp_path: Path, by_csv: list[dict], id_type: Any
) -> None:
    """The output's ids are the file's own column (not turned into Python and back),
    written as `string` also where a writer such as polars wrote `large_string`."""
    contacts = typed("contacts")
    at = contacts.column_names.index("id")
    contacts = contacts.set_column(at, "id", contacts.column("id").cast(id_type))
    pq.write_table(contacts, tmp_path / "contacts.parquet", row_group_size=100)
    pq.write_table(typed("activities"), tmp_path / "activities.parquet", row_group_size=100)
    out = tmp_path / "scores.parquet"

    result = score(
        "-c", str(tmp_path / "contacts.parquet"), "-a", str(tmp_path / "activities.parquet"),
        "-o", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out)
    same_rows(by_csv, table.to_pylist())
    assert table.schema.field("id").type == pa.string()
    assert table.column_names[-3:] == ["run_id", "rules_version", "scored_at"]
    assert table.column("scored_at").type == pa.timestamp("us", tz="UTC")
    assert table.column("rules_version").unique().to_pylist() == [
        rule_version(RULES.read_text("utf-8"))
    ]


contact_rows = st.lists(
    st.tuples(
        st.sampled_from(["Software", "Retail", "Government", None]),
        st.one_of(st.none(), st.integers(0, 20_000)),
        st.sampled_from(["CEO", "VP Marketing", "Engineer", "", None]),
    ),
    min_size=1,
    max_size=12,
)
activity_rows = st.lists(
    st.tuples(
        st.integers(0, 11),
        st.sampled_from(["page_view", "demo_request", "email_open", "form_submission"]),
        st.integers(0, 200 * 86_400),
        st.sampled_from(["https://acme.example/pricing", "https://acme.example/blog", None]),
    ),
    max_size=30,
)


@settings(max_examples=12)
@given(contact_rows, activity_rows)
def test_any_small_tables_and_parquet_files_score_as_their_csv_does(
    tmp_path_factory: pytest.TempPathFactory, people: list[tuple], acts: list[tuple]
) -> None:
    here = tmp_path_factory.mktemp("tables")
    url = f"sqlite:///{here / 'w.db'}"
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    contacts = pa.table(
        {
            "id": [f"c{i}" for i in range(len(people))],
            "email": [f"p{i}@acme{i % 3}.example" for i in range(len(people))],
            "industry": [p[0] for p in people],
            "employees": pa.array([p[1] for p in people], pa.int64()),
            "job_title": [p[2] for p in people],
        }
    )
    activities = pa.table(
        {
            "contact_id": [f"c{a[0] % len(people)}" for a in acts],
            "type": [a[1] for a in acts],
            "occurred_at": pa.array(
                [datetime.fromtimestamp(start + a[2], UTC) for a in acts], pa.timestamp("s", "UTC")
            ),
            "url": pa.array([a[3] for a in acts], pa.string()),
        }
    )
    load(url, "contacts", contacts)
    load(url, "activities", activities)
    pacsv.write_csv(contacts, here / "c.csv")
    pacsv.write_csv(activities, here / "a.csv")

    pq.write_table(contacts, here / "c.parquet")
    pq.write_table(activities, here / "a.parquet")

    by_csv = score("-c", str(here / "c.csv"), "-a", str(here / "a.csv"), "-o", str(here / "s.csv"))
    by_parquet = score(
        "-c", str(here / "c.parquet"), "-a", str(here / "a.parquet"), "-o", str(here / "s.parquet")
    )
    by_sql = score(
        "-c", "sql:contacts", "-a", "sql:activities", "--from-url", url, "-o", "sql:scored"
    )

    assert by_csv.exit_code == 0, by_csv.stderr
    assert by_sql.exit_code == 0, by_sql.stderr
    assert by_parquet.exit_code == 0, by_parquet.stderr
    same_rows(csv_rows(here / "s.csv"), read_back(url, "scored"))
    same_rows(csv_rows(here / "s.csv"), pq.read_table(here / "s.parquet").to_pylist())


# -- what a user gets wrong ----------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    load(url, "contacts", pa.table({"id": ["1", "2"], "n": [1.0, 2.0]}))
    acts = {"contact_id": ["1", "2"], "type": ["page_view"] * 2, "occurred_at": ["", "soon"]}
    load(url, "acts", pa.table(acts))
    load(url, "nameless", pa.table({"email": ["a@acme.io"]}))
    return url


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-c", "sql:nope"], "sql:nope: [SQLite] Failed to prepare query: no such table: nope"),
        (["--contacts-query", "SELEC id"], "--contacts-query: [SQLite] Failed to prepare query"),
        (["-c", "sql:nameless"], "sql:nameless: column 'id': missing column 'id'"),
        (["-c", "sql:contacts", "-a", "sql:acts"], "sql:acts:2: column 'occurred_at': expected"),
        (["-c", "sql:a;drop table x"], "'a;drop table x' is not a table name"),
        (["-c", "x.csv", "--contacts-query", "SELECT 1"], "give one"),
        (["-c", "sql:contacts", "-o", "sql:x y"], "'x y' is not a table name"),
        (["-c", "sql:contacts", "--append"], "--append adds to a table"),
    ],
)
def test_a_bad_table_or_query_is_named_with_exit_2(
    sqlite_url: str, args: list[str], expected: str
) -> None:
    result = score(*args, "--from-url", sqlite_url)
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_a_table_without_a_database_names_the_setting(tmp_path: Path) -> None:
    result = score("-c", "sql:contacts")
    assert result.exit_code == 2
    assert "LEADSCORE_WAREHOUSE_URL" in " ".join(result.stderr.split())


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    result = score("-c", "sql:contacts", "--from-url", f"sqlite:///{tmp_path / 'none.db'}")
    assert result.exit_code == 2
    assert "no SQLite file" in " ".join(result.stderr.split())
    assert not (tmp_path / "none.db").exists()


@pytest.mark.parametrize("where", ["--from-url", "setting"])
def test_a_database_that_refuses_never_shows_the_password(where: str) -> None:
    # nothing listens on port 1 of this host: refused at once
    url = "postgresql+psycopg://ann:s3cr%3Ft@127.0.0.1:1/leads"
    if where == "setting":
        result = score("-c", "sql:contacts", env={"LEADSCORE_WAREHOUSE_URL": url})
    else:
        result = score("-c", "sql:contacts", "--from-url", url)
    assert result.exit_code == 1  # not the input's fault: as a refused write
    message = " ".join(result.stderr.split())
    assert "sql:contacts (postgresql+psycopg://ann:***@127.0.0.1:1/leads)" in message
    assert "s3cr" not in result.output


def test_a_schema_a_sqlite_file_has_not_is_said_before_reading(sqlite_url: str) -> None:
    for args in (["-c", "sql:crm.contacts"], ["-c", "sql:contacts", "-o", "sql:crm.scored"]):
        result = score(*args, "--from-url", sqlite_url)
        assert result.exit_code == 2, result.output
        message = " ".join(result.stderr.split())
        assert "a SQLite database has no schema 'crm': name the table alone (sql:" in message
    main = score("-c", "sql:main.contacts", "--from-url", sqlite_url)
    assert main.exit_code == 0, main.stderr


def test_a_source_shows_its_url_masked() -> None:
    source = SqlSource("postgresql+psycopg://ann:s3cret@db/leads", table="people")
    assert "s3cret" not in repr(source) and str(source) == "sql:people"


def test_the_reader_keeps_only_the_columns_asked_for(sqlite_url: str) -> None:
    read = read_contact_columns(
        SqlSource(sqlite_url, query="SELECT id, 'x' AS k FROM contacts"), []
    )
    assert read.ids.tolist() == ["1", "2"] and read.attributes == {}


def test_a_sqlite_column_of_two_types_is_read_through_its_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's ADBC driver types a column by its first rows, then stops at another type
    monkeypatch.setattr("connectors.files.sql.SQLITE_TYPED_ROWS", 4)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE people (id TEXT, n)"))
        cells = [{"id": str(i), "n": 7 if i < 6 else "seven"} for i in range(9)]
        connection.execute(sa.text("INSERT INTO people VALUES (:id, :n)"), cells)
    engine.dispose()

    read = read_contact_columns(SqlSource(url, table="people"), ["n"])

    codes, categories = read.attributes["n"]
    assert read.ids.tolist() == [str(i) for i in range(9)]
    assert [categories[c] for c in codes] == ["7"] * 6 + ["seven"] * 3


def test_a_url_sqlalchemy_cannot_read_is_said_so() -> None:
    result = score("-c", "sql:contacts", "--from-url", "leads at the warehouse")
    assert result.exit_code == 2
    assert "sql:contacts: not a SQLAlchemy URL" in " ".join(result.stderr.split())


def test_a_table_out_in_a_missing_folder_fails_before_scoring(
    sqlite_url: str, tmp_path: Path
) -> None:
    target = f"sqlite:///{tmp_path / 'none' / 'out.db'}"
    result = score(
        "-c", "sql:contacts", "--from-url", sqlite_url, "--to-url", target, "-o", "sql:s"
    )
    assert result.exit_code == 2
    assert "--out sql:s: the folder" in " ".join(result.stderr.split())
    assert not (tmp_path / "none").exists() and "wrote" not in result.stdout


def test_a_table_the_database_refuses_fails_with_exit_1_and_keeps_the_old_one(
    sqlite_url: str,
) -> None:
    # a view of that name: SQLite refuses to drop it as a table, and the view stays
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE VIEW scored AS SELECT id FROM contacts"))
    engine.dispose()

    result = score("-c", "sql:contacts", "--from-url", sqlite_url, "-o", "sql:scored")

    assert result.exit_code == 1, result.output
    assert "sql:scored" in result.stderr and "Traceback" not in result.output
    assert [r["id"] for r in read_back(sqlite_url, "scored")] == ["1", "2"]


def test_without_the_adbc_driver_postgresql_is_read_through_psycopg(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(postgres_url, "contacts", typed("contacts"))
    source = SqlSource(postgres_url, table="contacts")
    columnar = read_contact_columns(source, ["industry", "employees"])

    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)  # not installed
    by_rows = read_contact_columns(source, ["industry", "employees"])

    assert by_rows.ids.tolist() == columnar.ids.tolist()
    codes, names = by_rows.attributes["industry"]
    was_codes, was_names = columnar.attributes["industry"]
    assert [names[c] if c >= 0 else None for c in codes] == [
        was_names[c] if c >= 0 else None for c in was_codes
    ]
    assert by_rows.attributes["employees"].tolist() == pytest.approx(
        columnar.attributes["employees"].tolist(), nan_ok=True
    )
