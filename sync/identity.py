"""Who a record is: persons keyed by address, found or created for the records and
activities stored. Each function runs inside its caller's transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.schema import persons, upsert_dialect


def persons_for(connection: Connection, emails: set[str]) -> dict[str, int]:
    """The person of each address, created where missing."""
    found = {
        email: pid
        for pid, email in connection.execute(
            sa.select(persons.c.id, persons.c.email).where(persons.c.email.in_(sorted(emails)))
        )
    }
    missing = sorted(emails - set(found))
    if missing:
        # One statement for all; in address order, so concurrent writers adding the
        # same new addresses take their locks in the same order (no deadlock), and a
        # person another writer just created stands.
        insert = upsert_dialect(connection).insert(persons)
        connection.execute(
            insert.on_conflict_do_nothing(index_elements=["email"]),
            [{"email": email} for email in missing],
        )
        found.update(
            (email, pid)
            for pid, email in connection.execute(
                sa.select(persons.c.id, persons.c.email).where(persons.c.email.in_(missing))
            )
        )
    return found


def new_person(connection: Connection, email: str | None) -> int:
    """A person for `email`, created unless another writer just created it."""
    if email is None:
        key = connection.execute(sa.insert(persons).values(email=None)).inserted_primary_key
        assert key is not None
        return int(key[0])
    insert = upsert_dialect(connection).insert(persons).values(email=email)
    connection.execute(insert.on_conflict_do_nothing(index_elements=["email"]))
    found = connection.execute(sa.select(persons.c.id).where(persons.c.email == email))
    return int(found.scalar_one())
