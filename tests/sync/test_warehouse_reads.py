"""A database's or a Parquet file's columns read exactly: ids above 2**53 keep their
digits (as a CSV file's text does), and a column of two types is text, never a traceback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from connectors.files import (
    SqlSource,
    WarehouseError,
    read_activity_columns,
    read_contact_columns,
)

BIG = [2**53, 2**53 + 1, 2**63 - 1]
"""Ids float64 cannot tell apart (the first two) or hold at all (the last)."""


def _sqlite(url: str, create: str, insert: str, rows: list[dict]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(create))
        connection.execute(sa.text(insert), rows)
    engine.dispose()


def test_ids_above_2_53_read_alike_from_csv_parquet_and_sql(tmp_path: Path) -> None:
    people = [{"id": i, "company": i, "n": k} for k, i in enumerate(BIG)]
    acts = [{"contact_id": i, "type": "page_view", "occurred_at": "2026-01-01"} for i in BIG]
    (tmp_path / "c.csv").write_text(
        "id,company,n\n" + "".join(f"{p['id']},{p['company']},{p['n']}\n" for p in people)
    )
    (tmp_path / "a.csv").write_text(
        "contact_id,type,occurred_at\n"
        + "".join(f"{a['contact_id']},page_view,2026-01-01\n" for a in acts)
    )
    pq.write_table(pa.Table.from_pylist(people), tmp_path / "c.parquet")
    pq.write_table(pa.Table.from_pylist(acts), tmp_path / "a.parquet")
    url = f"sqlite:///{tmp_path / 'w.db'}"
    _sqlite(url, "CREATE TABLE c (id INTEGER, company INTEGER, n INTEGER)",
            "INSERT INTO c VALUES (:id, :company, :n)", people)  # fmt: skip
    _sqlite(url, "CREATE TABLE a (contact_id INTEGER, type TEXT, occurred_at TEXT)",
            "INSERT INTO a VALUES (:contact_id, :type, :occurred_at)", acts)  # fmt: skip
    sources = {
        "csv": (tmp_path / "c.csv", tmp_path / "a.csv"),
        "parquet": (tmp_path / "c.parquet", tmp_path / "a.parquet"),
        "sql": (SqlSource(url, table="c"), SqlSource(url, table="a")),
    }

    for kind, (contacts, activities) in sources.items():
        read = read_contact_columns(contacts, ["company", "n"])
        assert read.ids.tolist() == [str(i) for i in BIG], kind
        codes, categories = read.attributes["company"]  # a key, exact as text
        assert [categories[c] for c in codes] == [str(i) for i in BIG], kind
        tied = read_activity_columns(activities, read, [])
        assert (tied.contact_rows.tolist(), tied.unmatched) == ([0, 1, 2], 0), kind
    # numbers for the rules, within 2**53, are numbers still
    numbers = read_contact_columns(sources["parquet"][0], ["n"]).attributes["n"]
    assert isinstance(numbers, np.ndarray) and numbers.tolist() == [0.0, 1.0, 2.0]


def test_a_column_of_two_types_across_row_batches_is_text_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ADBC stops at the other type; the rows are then read in batches, typed apart
    monkeypatch.setattr("connectors.files.sql.SQLITE_TYPED_ROWS", 4)
    monkeypatch.setattr("connectors.files.sql.BATCH_ROWS", 3)
    url = f"sqlite:///{tmp_path / 'w.db'}"
    rows = [{"id": i, "n": 7 if i < 6 else "lots", "x": 1 if i < 3 else 1.5} for i in range(9)]
    _sqlite(url, "CREATE TABLE people (id INTEGER, n, x)", "INSERT INTO people VALUES (:id, :n, :x)",
            rows)  # fmt: skip

    read = read_contact_columns(SqlSource(url, table="people"), ["n", "x"])

    codes, categories = read.attributes["n"]
    assert [categories[c] for c in codes] == ["7"] * 6 + ["lots"] * 3
    assert read.attributes["x"].tolist() == [1.0] * 3 + [1.5] * 6  # numbers, promoted


@pytest.mark.parametrize("rows", [False, True], ids=["adbc", "rows"])
def test_a_query_that_writes_is_refused_and_changes_nothing(tmp_path: Path, rows: bool) -> None:
    from connectors.files.sql import _connection, _fetch

    url = f"sqlite:///{tmp_path / 'w.db'}"
    _sqlite(url, "CREATE TABLE people (id INTEGER, n INTEGER)",
            "INSERT INTO people VALUES (:id, :n)", [{"id": 1, "n": 2}])  # fmt: skip
    source = SqlSource(url, query="DELETE FROM people RETURNING *")

    reading = _connection(url, source.name, create=False, rows=rows)
    with pytest.raises(WarehouseError) as caught, reading as (kind, connection):
        _fetch(kind, connection, source)
    assert "readonly database" in str(caught.value)
    with pytest.raises(WarehouseError):
        read_contact_columns(source, [])
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM people")).scalar() == 1
    engine.dispose()
