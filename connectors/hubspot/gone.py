"""Contacts that are gone from HubSpot: merged into another, or deleted (archived).

A batch update answers a merged-away id under the id of the contact it was
merged into (the id asked for is missing, with no error) and a deleted one as
OBJECT_NOT_FOUND. Writing again would never land, so such ids are checked with
two batch reads: the live read answers a merged id with the contact that lists
it in `hs_merged_object_ids`; the archived read (`archived=true`) answers a
deleted one. An id the update answered OBJECT_NOT_FOUND that neither read answers was
deleted for good: a GDPR deletion (`POST /crm/v3/objects/contacts/gdpr-delete`, "Permanently
delete a contact (GDPR-compliant)", API reference crm-contacts-v3), or an archived contact
purged after HubSpot's 90 days. It is gone as a deleted one is, and the sync erases what it
held of it (`sync.vanished`).

Whether a merge carries the ids the merged contact had absorbed into the primary's
`hs_merged_object_ids` is not documented, so the check of known ids does not depend on it:
an id the live read answers (no OBJECT_NOT_FOUND entry names it) but under another contact
that does not list it is merged (read alone to learn into which), never gone for good.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.fetch import BATCH_READ
from connectors.protocol import Gone


def _read(api: HubSpotApi, ids: Sequence[str], *, archived: bool) -> list[dict[str, Any]]:
    return list(_answer(api, ids, archived=archived).get("results") or [])


def _not_found(body: dict[str, Any]) -> set[str]:
    """The ids a 207 answer's OBJECT_NOT_FOUND errors name (`context.ids`)."""
    named: set[str] = set()
    for error in body.get("errors") or []:
        if isinstance(error, dict) and error.get("category") == "OBJECT_NOT_FOUND":
            named |= {str(i) for i in (error.get("context") or {}).get("ids") or []}
    return named


def _answer(api: HubSpotApi, ids: Sequence[str], *, archived: bool) -> dict[str, Any]:
    from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

    request = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in ids],
        properties=["hs_merged_object_ids"],
        properties_with_history=[],
    )
    body: dict[str, Any] = api.json(
        "contacts.batch_read",
        api.contacts_batch.read,
        batch_read_input_simple_public_object_id=request,
        archived=archived,
    )
    return body


def find_gone(
    api: HubSpotApi, ids: Sequence[str], not_found: Collection[str] = ()
) -> dict[str, Gone]:
    """Which of `ids` are merged away or deleted; at most two calls. Those of `not_found`
    (answered OBJECT_NOT_FOUND) that no read answers are deleted for good."""
    if not ids:
        return {}
    found: dict[str, Gone] = {}
    wanted = set(ids)
    for result in _read(api, ids, archived=False):
        properties = result.get("properties") or {}
        merged = str(properties.get("hs_merged_object_ids") or "")
        for old in merged.split(";"):
            if old in wanted and old != str(result["id"]):
                found[old] = Gone(old, str(result["id"]))
    rest = [i for i in ids if i not in found]
    if rest:
        for result in _read(api, rest, archived=True):
            found[str(result["id"])] = Gone(str(result["id"]), None)
    for record in not_found:
        if record in wanted and record not in found:
            found[record] = Gone(record, None, for_good=True)
    return found


def _merged_into(api: HubSpotApi, record: str) -> str | None:
    """The contact a read of `record` alone answers with, when not itself (one call)."""
    results = _read(api, [record], archived=False)
    into = str(results[0]["id"]) if results else None
    return into if into != record else None


def known_gone(api: HubSpotApi, ids: Sequence[str]) -> list[Gone]:
    """Which of `ids` HubSpot no longer has, read back by batch reads of 100: one per 100
    ids, plus an archived read per 100 of those the live read did not answer. A live read
    answers 207 with OBJECT_NOT_FOUND for an id it does not have and leaves it out of
    `results`; a merged id comes back under the contact it was merged into. An id neither
    read answers was deleted for good (a GDPR deletion, or an archived contact purged)."""
    gone: list[Gone] = []
    missing: list[str] = []
    for start in range(0, len(ids), BATCH_READ):
        chunk = ids[start : start + BATCH_READ]
        answered: set[str] = set()
        merged: dict[str, str] = {}
        body = _answer(api, chunk, archived=False)
        not_found = _not_found(body)
        for result in body.get("results") or []:
            answered.add(str(result["id"]))
            properties = result.get("properties") or {}
            for old in str(properties.get("hs_merged_object_ids") or "").split(";"):
                if old and old != str(result["id"]):
                    merged[old] = str(result["id"])
        for record in chunk:
            if record in answered:
                continue
            if record in merged:
                gone.append(Gone(record, merged[record]))
            elif record not in not_found and (into := _merged_into(api, record)) is not None:
                # answered under another contact without being in its merged ids (merged
                # into one that was merged again since): merged, never gone for good
                gone.append(Gone(record, into))
            else:
                missing.append(record)
    for start in range(0, len(missing), BATCH_READ):
        chunk = missing[start : start + BATCH_READ]
        archived = {str(r["id"]) for r in _read(api, chunk, archived=True)}
        gone += [Gone(r, None, for_good=r not in archived) for r in chunk]
    return gone
