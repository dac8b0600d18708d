"""Known Leads and Contacts read back, to find those deleted with no trace a pull sees.

An incremental pull reads deleted records through queryAll while they are in the Recycle
Bin (15 days; `pull.pull_people`). A record deleted and then purged from the bin before a
pull (the bin emptied, a hard delete, or no sync for 15 days) is in no answer: the sync
would keep it, and its person, until a write to it failed. `known_deleted` reads a slice of
the ids the store knows back with queryAll, `SELECT Id, IsDeleted, MasterRecordId FROM Lead
WHERE Id IN (...)`, 200 ids a query (`soql.IN_CHUNK`): a record answered `IsDeleted` is
gone (merged into `MasterRecordId` when a merge deleted it), one not answered at all was
purged. The query goes through the REST query resource (SOAP API Developer Guide,
`queryAll()`: deleted records "in the Recycle Bin"; purged ones are not returned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.protocol import Gone
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.pull import walk
from connectors.salesforce.records import sobject_of
from connectors.salesforce.soql import IN_CHUNK, is_record_id, soql_ids


def known_deleted(api: SalesforceApi, ids: Sequence[str]) -> list[Gone]:
    """Which of these Lead and Contact ids the org no longer has (deleted, merged away or
    purged); one queryAll per 200 ids of each type. Other ids are passed over."""
    by_type: dict[str, list[str]] = {}
    for record in ids:
        sobject = sobject_of(record)
        if sobject is not None and is_record_id(record):
            by_type.setdefault(sobject, []).append(record)
    gone: list[Gone] = []
    for sobject, wanted in by_type.items():
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            where = f"Id IN {soql_ids(chunk)}"
            soql = f"SELECT Id, IsDeleted, MasterRecordId FROM {sobject} WHERE {where}"
            answered: dict[str, Mapping[str, Any]] = {}
            for records in walk(api, f"{sobject.lower()}s.check", soql, deleted=True):
                answered |= {str(r["Id"])[:15]: r for r in records}
            for record in chunk:
                found = answered.get(record[:15])
                if found is None:  # purged from the Recycle Bin
                    gone.append(Gone(record))
                elif found.get("IsDeleted") is True:
                    master = found.get("MasterRecordId")
                    gone.append(Gone(record, str(master) if master else None))
    return gone
