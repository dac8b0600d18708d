"""One contact fetched whole for a trigger, in two rounds of calls (the write is the third).

    round 1, side by side: the contact with its associations, its page views and its
        form submissions (what needs the record id only)
    round 2, side by side: its email events (by address), its deals and engagements
        (one batch read per kind), the portal's deal stages where it has deals
    then the sync's write

The portal's forms and deal stages are kept for a while (`HubSpotApi.remembered`), as
are its features (`history.py`, once per connector), so a warm process asks for none
of them. By email, or when the id answers as another contact (merged into it), page
views and submissions need the contact's own id, so they move to round 2. A deal in a
stage the kept stages do not name reads the stages again (one round more, rarely).

The activities are those the former one-call-at-a-time fetch gave, in its order:
counters, email events, engagements and deals by kind, page views, submissions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.hubspot.client import OBJECT_KINDS, HubSpotApi
from connectors.hubspot.email_events import email_event_activity
from connectors.hubspot.engagements import object_activities, read_deal_stages
from connectors.hubspot.forms import contact_submissions
from connectors.hubspot.pull import EVENTS_PAGE, event_pages
from connectors.hubspot.records import contact_of, counter_activities
from connectors.hubspot.sales_records import OBJECT_PROPERTIES, DealStage
from connectors.hubspot.web_events import contact_views
from connectors.paging import side_by_side
from connectors.protocol import Page
from scoring.records import Activity

FETCH_WORKERS = 2 + len(OBJECT_KINDS)
"""Calls of one round at once: email events, a batch read of each kind, the deal stages."""
BATCH_READ = 100
"""Ids of one batch read (HubSpot's limit for a batch of objects)."""
DEAL_STAGES = "deal_stages"


def fetch_contact(
    api: HubSpotApi, properties: Sequence[str], record_id: str | None, email: str | None
) -> Page:
    """One contact by id or by email, with its email events, engagements, deals, page
    views and form submissions (where the portal gives those)."""
    if (record_id is None) == (email is None):
        raise ValueError("fetch takes a record id or an email, not both or neither")

    def contact() -> Any:
        return api.json(
            "contacts.get",
            api.contacts_basic.get_by_id,
            record_id if record_id is not None else email,
            properties=list(properties),
            associations=list(OBJECT_KINDS),
            id_property=None if record_id is not None else "email",
        )

    first: list[Callable[[], Any]] = [contact]
    if record_id is not None:
        first += [_caught(lambda: _history(api, record_id))]
    answers = side_by_side(first, FETCH_WORKERS)
    found = answers[0]
    found_id = str(found["id"])
    attributes = dict(found.get("properties") or {})
    person = contact_of(found_id, attributes)
    links = found.get("associations") or {}
    refs = {kind: _ids(links, kind) for kind in OBJECT_KINDS}

    second: dict[str, Callable[[], Any]] = {}
    if person.email:
        second["events"] = functools.partial(_email_activities, api, person.email)
    for kind in OBJECT_KINDS:
        if refs[kind]:
            second[kind] = functools.partial(_batch_read, api, kind, refs[kind])
    if refs["deals"]:
        second[DEAL_STAGES] = lambda: api.remembered(DEAL_STAGES, lambda: read_deal_stages(api))
    early = answers[1] if record_id == found_id else None
    if early is None:
        second["history"] = lambda: _history(api, found_id)
    got = dict(zip(second, side_by_side(list(second.values()), FETCH_WORKERS), strict=True))

    stages: Mapping[str, DealStage] | None = got.get(DEAL_STAGES)
    if stages is not None and any(
        str((item.get("properties") or {}).get("dealstage") or "") not in stages
        for item in got.get("deals", [])
        if (item.get("properties") or {}).get("dealstage")
    ):
        stages = api.remembered(DEAL_STAGES, lambda: read_deal_stages(api), fresh=True)
    activities = [*counter_activities(found_id, attributes), *got.get("events", [])]
    for kind in OBJECT_KINDS:
        for item in got.get(kind, []):
            activities += object_activities(kind, item, [found_id], stages)
    if early is not None and early[1] is not None:
        raise early[1]
    history = got["history"] if early is None else early[0]
    return Page("contacts", [person], [*activities, *history])


def _ids(links: Mapping[str, Any], kind: str) -> list[str]:
    """The ids of a kind's associated objects, once each, in the answer's order."""
    found = [str(ref["id"]) for ref in (links.get(kind) or {}).get("results") or []]
    return list(dict.fromkeys(found))


def _history(api: HubSpotApi, contact_id: str) -> list[Activity]:
    """The contact's page views and form submissions, side by side."""
    views, submissions = side_by_side(
        [lambda: contact_views(api, contact_id), lambda: contact_submissions(api, contact_id)]
    )
    return [*views, *submissions]


def _caught(
    call: Callable[[], list[Activity]],
) -> Callable[[], tuple[list[Activity], Exception | None]]:
    """`call` run now, its answer or its failure given back: a failure for an id that
    answers as another contact is not the fetch's (round 2 asks for the right one)."""

    def run() -> tuple[list[Activity], Exception | None]:
        try:
            return call(), None
        except Exception as failure:
            return [], failure

    return run


def _email_activities(api: HubSpotApi, address: str) -> list[Activity]:
    activities: list[Activity] = []
    for data in event_pages(api, {"recipient": address, "limit": EVENTS_PAGE}):
        events = map(email_event_activity, data.get("events", []))
        activities += [a for a in events if a is not None]
    return activities


def _batch_read(api: HubSpotApi, kind: str, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The objects of `ids`, in their order, by batch reads of 100 (one for a contact's
    usual few); an id that names none (deleted since) is passed over."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH_READ):
        request = {
            "inputs": [{"id": i} for i in ids[start : start + BATCH_READ]],
            "properties": OBJECT_PROPERTIES[kind],
            "propertiesWithHistory": [],
        }
        body = api.json(
            f"{kind}.batch_read",
            api.batches[kind].read,
            batch_read_input_simple_public_object_id=request,
        )
        found.update({str(item["id"]): item for item in body.get("results") or []})
    return [found[i] for i in ids if i in found]
