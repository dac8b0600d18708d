"""The Salesforce streams: people (Leads and Contacts) and their activity, by SystemModstamp.

Every stream queries `WHERE SystemModstamp >= cursor - lookback ORDER BY
SystemModstamp, Id` (everything, on a first or full pull), pages through
`nextRecordsUrl` (2,000 records a page at most), and keeps as its cursor the newest
SystemModstamp it read. SystemModstamp, not LastModifiedDate: it is read-only and
moves on system changes too (a conversion, a merge). It is stamped when a
transaction starts, so a record committed a little after others can carry an
older stamp than theirs: the look-back re-reads those seconds, and a record read
twice in one pull is taken once (by Id); the store makes a re-read across pulls
harmless. Each page is one query call under the call policy, so a failed page is
retried alone (what `query_all_iter` does, page by page, with retries). A full
pull of a stream larger than `bulk_query_above` records runs as a Bulk API 2.0
query job instead (`bulk_query`), whose records come in no order: the cursor
moves on its last page only. A page read in that order (`settled`) is also where a
pull a run's deadline cut short resumes (`Page.resume`: its cursor), save a page of
Leads and Contacts after a converted Lead whose Contact is still to be read; a
query job's pages have none.

Only the fields the rules need (through the attribute mapping) and the org has
are selected (`describe.Schema`). A converted Lead is passed over and its Contact
(`ConvertedContactId`) read instead, once, even when the Contact did not change;
the Lead comes back `Gone`, merged into the Contact. An incremental pull of Leads
and Contacts is a queryAll (SOAP API Developer Guide, `queryAll()`: deleted and
merged-away records, `IsDeleted`, `MasterRecordId`, while they are in the Recycle
Bin, 15 days), so a record deleted since the cursor comes back `Gone`, merged into
its `MasterRecordId` when a merge deleted it. A full pull reads live records only.

Incremental pulls of campaign members, won Opportunities and their contact roles are
queryAlls too, so that one deleted since the cursor takes back the activities it gave
(`Page.withdrawn`). REST API Developer Guide, QueryAll
(https://developer.salesforce.com/docs/platform/api-rest/guide/resources-queryall.md):
"Unlike the Query resource, QueryAll returns records that are soft deleted due to a
merge or delete. After these records are permanently removed from the recycle bin, you
can no longer query them." Deleting moves SystemModstamp, so the stream's own
`SystemModstamp >=` window finds them at no extra call. The other way Salesforce
documents, sObject Get Deleted (`sobjects/{type}/deleted/?start=&end=`,
https://developer.salesforce.com/docs/platform/api-rest/guide/resources-getdeleted.md),
lists deleted ids with their `deletedDate` for "no more than 15 days previous", but is a
call per object and run besides the query, and its delete log may be purged sooner ("a
background process that runs every two hours purges records ... if the number of records
is above a certain limit"); the queryAll costs nothing more and reads the Recycle Bin the
Leads and Contacts already rely on. Both see a deletion for 15 days at most: a stream not
pulled for longer misses it, and so does a full pull, which reads live records only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from connectors.attributes import AttributeMap
from connectors.paging import dump_cursor, follow
from connectors.protocol import Gone, Page, Withdrawn
from connectors.salesforce.bulk_query import Records, query_pages
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.records import (
    converted_to,
    event_activity,
    is_converted,
    is_deleted,
    member_activities,
    person_of,
    purchase_activity,
    purchase_prefix,
    role_withdrawn,
    task_activity,
)
from connectors.salesforce.soql import in_chunks, select, soql_datetime, soql_ids
from connectors.values import parse_time
from scoring.records import Activity

STAMP = "SystemModstamp"
ORDER = "SystemModstamp, Id"
PEOPLE_FIELDS = {
    "Lead": ("Id", "Email", "IsConverted", "ConvertedContactId", "Status", STAMP),
    "Contact": ("Id", "Email", STAMP),
}
"""Read on every pull besides the fields the rules need."""
MEMBER_FIELDS = ("Id", "CampaignId", "LeadId", "ContactId", "Status", "HasResponded",
                 "FirstRespondedDate", "Campaign.Type", "CreatedDate", STAMP)  # fmt: skip
TASK_FIELDS = ("Id", "WhoId", "TaskSubtype", "Type", "CallDisposition", "Status", "IsClosed",
               "CompletedDateTime", "CreatedDate", STAMP)  # fmt: skip
EVENT_FIELDS = ("Id", "WhoId", "Type", "StartDateTime", "EndDateTime", "ActivityDateTime", STAMP)
ROLE_FIELDS = ("Id", "OpportunityId", "ContactId", "Opportunity.IsWon", "Opportunity.Amount",
               "Opportunity.CurrencyIsoCode", "Opportunity.CloseDate", STAMP)  # fmt: skip
"""`Opportunity.CurrencyIsoCode` exists only in a multi-currency org (the describe leaves it
out elsewhere, `Schema.present`): the currency of its `Amount`, RFM's `currency`."""


def walk(api: SalesforceApi, operation: str, soql: str, deleted: bool = False) -> Iterator[Records]:
    """The records of a query (of a queryAll, with `deleted`), a page at a time."""

    def page(next_url: str | None) -> tuple[Records, str | None]:
        answer = api.query_page(operation, None if next_url else soql, next_url, deleted)
        records = list(answer.get("records") or [])
        done = answer.get("done", True) or not answer.get("nextRecordsUrl")
        return records, None if done else str(answer["nextRecordsUrl"])

    return follow(page)


def since_clause(state: Mapping[str, Any], key: str, lookback: float) -> list[str]:
    since = parse_time(state.get(key))
    if since is None:
        return []
    return [f"{STAMP} >= {soql_datetime(since - timedelta(seconds=lookback))}"]


def newest(current: str | None, records: Records) -> str | None:
    """The later of `current` and the records' SystemModstamps, as Salesforce wrote it."""
    best, best_at = current, parse_time(current)
    for record in records:
        at = parse_time(record.get(STAMP))
        if at is not None and (best_at is None or at > best_at):
            best, best_at = str(record[STAMP]), at
    return best


def pull_people(
    api: SalesforceApi,
    schema: Schema,
    wanted: Sequence[str],
    state: Mapping[str, Any],
    lookback: float,
    mapping: AttributeMap,
    converted: dict[str, str],
) -> Iterator[Page]:
    """Leads, then Contacts, changed since the cursor; `converted` learns which Lead became
    which Contact.

    An incremental pull reads through queryAll, so that a record deleted since the cursor
    (`IsDeleted`; merged into `MasterRecordId` when a merge deleted it) comes back `Gone`;
    a full pull reads the live records only. A converted Lead whose Contact the org names
    is `Gone` too, merged into it."""
    cursor = dict(state)
    seen: set[str] = set()
    became: list[str] = []
    for sobject in ("Lead", "Contact"):
        since = since_clause(state, sobject, lookback)
        deleted = bool(since)
        extra = ("IsDeleted", "MasterRecordId") if deleted else ()
        fields = schema.present(sobject, [*PEOPLE_FIELDS[sobject], *extra, *wanted])
        latest = cursor.get(sobject)
        read = query_pages(api, schema, f"{sobject.lower()}s.query", sobject, fields, since,
                           ORDER, deleted, full=not since)  # fmt: skip
        for records, settled in read:
            people, gone = [], []
            for record in records:
                record_id = str(record["Id"])
                if record_id in seen:
                    continue
                seen.add(record_id)
                if record.get("IsDeleted") is True:
                    master = record.get("MasterRecordId")
                    gone.append(Gone(record_id, str(master) if master else None))
                elif is_converted(record):
                    target = converted_to(record)
                    if target is not None:
                        converted[record_id] = target
                        became.append(target)
                        gone.append(Gone(record_id, target))
                else:
                    people.append(person_of(record, mapping))
            latest = newest(latest, records)
            if settled:
                cursor[sobject] = latest
            # Resumable once the Contacts of the converted Leads passed are read too.
            waiting = any(c not in seen for c in became)
            resume = dump_cursor(**cursor) if settled and not waiting else None
            yield Page("contacts", people, cursor=dump_cursor(**cursor), gone=gone, resume=resume)
    late = [c for c in dict.fromkeys(became) if c not in seen]
    if late:
        yield Page("contacts", fetch_people(api, schema, wanted, "Contact", late, mapping),
                   cursor=dump_cursor(**cursor))  # fmt: skip


def fetch_people(
    api: SalesforceApi,
    schema: Schema,
    wanted: Sequence[str],
    sobject: str,
    ids: Sequence[str],
    mapping: AttributeMap,
) -> list[Any]:
    fields = schema.present(sobject, [*PEOPLE_FIELDS[sobject], *wanted])
    found = []
    for part in in_chunks(ids):
        soql = select(sobject, fields, [f"Id IN {soql_ids(part)}"])
        for records in walk(api, f"{sobject.lower()}s.query", soql):
            found += [person_of(r, mapping) for r in records if not is_converted(r)]
    return found


ToActivities = Callable[[Mapping[str, Any]], Sequence[Activity]]
ToWithdrawn = Callable[[Mapping[str, Any]], Sequence[Withdrawn]]


def pull_activities(
    api: SalesforceApi,
    schema: Schema,
    stream: str,
    sobject: str,
    fields: Sequence[str],
    to_activities: ToActivities,
    state: Mapping[str, Any],
    lookback: float,
    where: Sequence[str] = (),
    revised: bool = False,
    withdraw: ToWithdrawn | None = None,
) -> Iterator[Page]:
    """One object's records changed since the cursor, as activities. With `revised` (its
    activities are revisable), an incremental pull is a queryAll: a record deleted since
    (`IsDeleted`) comes back as its activity with the outcome `deleted`, which replaces
    the one stored (a cancelled meeting no longer counts once its time comes). With
    `withdraw`, too, and a record deleted since withdraws the activities it gave
    (`Page.withdrawn`: a CampaignMember deleted with its member's sent and responded)."""
    present = schema.present(sobject, fields) if schema.fields(sobject) is not None else []
    if STAMP not in present:
        yield Page(stream)  # the org has no such object (or hides it): nothing, no cursor
        return
    cursor = dict(state)
    since = since_clause(state, "since", lookback)
    deleted = (revised or withdraw is not None) and bool(since)
    if deleted:
        present = [*present, *schema.present(sobject, ["IsDeleted"])]
    seen: set[str] = set()
    latest = cursor.get("since")
    read = query_pages(api, schema, f"{stream}.query", sobject, present, [*where, *since], ORDER,
                       deleted, full=not since)  # fmt: skip
    for records, settled in read:
        fresh = [r for r in records if str(r["Id"]) not in seen]
        seen.update(str(r["Id"]) for r in fresh)
        withdrawn: list[Withdrawn] = []
        if withdraw is not None and deleted:
            withdrawn = [w for r in fresh if is_deleted(r) for w in withdraw(r)]
            fresh = [r for r in fresh if not is_deleted(r)]
        activities = [a for r in fresh for a in to_activities(r)]
        latest = newest(latest, records)
        if settled:
            cursor["since"] = latest
        resume = dump_cursor(**cursor) if settled else None
        yield Page(stream, activities=activities, cursor=dump_cursor(**cursor), resume=resume,
                   withdrawn=withdrawn)  # fmt: skip


def members(record: Mapping[str, Any]) -> list[Activity]:
    return list(member_activities(record))


def tasks(record: Mapping[str, Any]) -> list[Activity]:
    found = task_activity(record)
    return [found] if found is not None else []


def events(record: Mapping[str, Any]) -> list[Activity]:
    found = event_activity(record)
    return [found] if found is not None else []


def purchases(record: Mapping[str, Any]) -> list[Activity]:
    found = purchase_activity(record)
    return [found] if found is not None else []


def pull_purchases(
    api: SalesforceApi, schema: Schema, state: Mapping[str, Any], lookback: float
) -> Iterator[Page]:
    """Won Opportunities as purchases of their contact roles' Contacts.

    An Opportunity is won after its roles were added, so its own SystemModstamp is
    followed (`won`), and the roles of the won ones read by OpportunityId; a role
    added to an Opportunity already won moves only the role's stamp (`roles`).
    """
    roles = schema.present("OpportunityContactRole", ROLE_FIELDS)
    if schema.fields("Opportunity") is None or "Opportunity.IsWon" not in roles:
        yield Page("opportunities")
        return
    cursor = dict(state)
    seen: set[str | None] = set()

    def once(found: list[Activity]) -> list[Activity]:
        """Each purchase once per pull, though both queries may read its role."""
        fresh = [a for a in found if a.id not in seen]
        seen.update(a.id for a in fresh)
        return fresh

    since = since_clause(state, "won", lookback)
    # An incremental pull is a queryAll of every Opportunity changed since: a deleted one,
    # or one no longer won (reopened, or lost after all), withdraws its purchases.
    deleted = bool(since)
    won_fields = ["Id", STAMP, *(["IsDeleted", "IsWon"] if deleted else [])]
    soql = select("Opportunity", won_fields, since or ["IsWon = true"], ORDER)
    for records in walk(api, "opportunities.query", soql, deleted):
        gone = [r for r in records if is_deleted(r) or r.get("IsWon") is False]
        withdrawn = [Withdrawn(prefix=purchase_prefix(str(r["Id"]))) for r in gone]
        ids = [str(r["Id"]) for r in records if not (is_deleted(r) or r.get("IsWon") is False)]
        activities: list[Activity] = []
        for part in in_chunks(ids):
            where = [f"OpportunityId IN {soql_ids(part)}"]
            for found in walk(api, "roles.query", select("OpportunityContactRole", roles, where)):
                activities += once([a for r in found for a in purchases(r)])
                cursor["roles"] = newest(cursor.get("roles"), found)
        cursor["won"] = newest(cursor.get("won"), records)
        yield Page("opportunities", activities=activities, cursor=dump_cursor(**cursor),
                   withdrawn=withdrawn)  # fmt: skip
    if "won" not in state:
        return  # a first pull: every won Opportunity's roles were read above
    where = ["Opportunity.IsWon = true", *since_clause(state, "roles", lookback)]
    fields = [*roles, *schema.present("OpportunityContactRole", ["IsDeleted"])]
    soql = select("OpportunityContactRole", fields, where, ORDER)
    for records in walk(api, "roles.query", soql, True):
        cursor["roles"] = newest(cursor.get("roles"), records)
        withdrawn = [w for r in records if is_deleted(r) for w in role_withdrawn(r)]
        activities = once([a for r in records if not is_deleted(r) for a in purchases(r)])
        yield Page("opportunities", activities=activities, cursor=dump_cursor(**cursor),
                   withdrawn=withdrawn)  # fmt: skip
