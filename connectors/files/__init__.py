"""The files connector: contacts and activities from CSV, JSON Lines or Parquet, scores back out.

Contacts need an `id` and may have an `email`; every other column is an
attribute. Activities need `type`, `occurred_at` and either `contact_id` or
`email`, may have an `id`, and every other column is an attribute. Dates are
ISO-8601; a date without an offset is taken as UTC. Everything is checked
before anything is returned: a malformed file raises `InputFileError` naming
the file, row and column of each problem.

A SQL table or query (`SqlSource`: a SQLAlchemy URL and `sql:TABLE` or the query) is
read as a Parquet file is, its columns from the driver (`sql.py`). CSV and Parquet
files are read by pyarrow into columns (`read_contact_columns`,
`read_activity_columns`), never a Python object per row; JSON Lines row by row.
Scores are written from columns (`write_columns`). pyarrow is imported only by the
functions that read or write a file.

    rows.py         the row reader: JSON Lines, and CSV files of an odd shape
    csv_columns.py  CSV into Arrow columns, and when the row reader takes over
    parquet.py      Parquet into Arrow columns
    table.py        a file's columns before they are checked (`RawTable`)
    contacts.py     contacts as columns, checked (`ContactsRead`)
    activities.py   activities as columns, checked and tied to contacts (`ActivitiesRead`)
    moments.py      activity types, and ISO-8601 moments one at a time or a column at a time
    read.py         the entry points, as columns or as records
    write.py        scores out, as rows or as columns
    sql.py          a SQL table or query in as Arrow columns (ADBC), scores out to a table
    problems.py     file formats, and problems with file, row and column
"""

from __future__ import annotations

from connectors.files.activities import ActivitiesRead
from connectors.files.contacts import ContactsRead
from connectors.files.moments import moment_problem, parse_activity_type, parse_moment
from connectors.files.problems import file_format
from connectors.files.read import (
    ActivityRead,
    activity_reader,
    read_activities,
    read_activity_columns,
    read_contact_columns,
    read_contacts,
)
from connectors.files.sql import (
    SqlSource,
    WarehouseError,
    WarehouseUnreachable,
    WriteMode,
    checked_database_url,
    checked_table,
    is_sql_target,
    masked_url,
    write_sql_table,
)
from connectors.files.write import columns_table, write_columns, write_rows

__all__ = [
    "ActivitiesRead",
    "ActivityRead",
    "ContactsRead",
    "SqlSource",
    "WarehouseError",
    "WarehouseUnreachable",
    "WriteMode",
    "activity_reader",
    "checked_database_url",
    "checked_table",
    "columns_table",
    "file_format",
    "is_sql_target",
    "masked_url",
    "moment_problem",
    "parse_activity_type",
    "parse_moment",
    "read_activities",
    "read_activity_columns",
    "read_contact_columns",
    "read_contacts",
    "write_columns",
    "write_rows",
    "write_sql_table",
]
