"""Form submissions, one activity each: which form, from which page, when.

Stream `form_submissions`: the portal's forms (`GET /marketing/v3/forms/`, the SDK's
typed client), then each form's submissions (`GET
/form-integrations/v1/submissions/forms/{form_guid}`, newest first, at most 50 a
page, which the SDK has no client for) down to the cursor less the look-back. The
cursor is the newest `submittedAt` seen. A submission is keyed by the address in its
`email` field, as email events are. Meetings booked through a meetings link are not
form submissions: the meetings stream gives them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from connectors.errors import ApiError
from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.history import FORM_SUBMISSIONS, FORMS_PATH, has_form_submissions
from connectors.hubspot.records import SYSTEM, conversion_type
from connectors.paging import dump_cursor, follow, interleave
from connectors.protocol import Page
from connectors.values import parse_time
from scoring.records import Activity

FORMS_PAGE, SUBMISSIONS_PAGE = 50, 50
SUBMISSIONS_PATH = "/form-integrations/v1/submissions/forms/{form}"
PROFILE_PATH = "/contacts/v1/contact/vid/{vid}/profile"
KEPT_FORMS = "forms"
UNLISTED_FORMS = "forms not listed"
"""Form ids a profile named that a fresh read of the list still lacked (deleted forms, or
kinds the forms list leaves out), kept as long as the list: not read for again."""


def list_forms(api: HubSpotApi) -> list[dict[str, Any]]:
    """Every form of the portal (id and name), following the pages."""

    def page(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        body = api.get("forms.list", FORMS_PATH, {"limit": FORMS_PAGE, "after": after})
        following = ((body.get("paging") or {}).get("next") or {}).get("after")
        return list(body.get("results") or []), None if following is None else str(following)

    return [form for results in follow(page) for form in results]


def submission_activity(
    form: Mapping[str, Any], item: Mapping[str, Any], contact_id: str = ""
) -> Activity | None:
    """One submission of `form` as an activity of `contact_id`, or else of the address it
    gave; None without either."""
    moment = parse_time(item.get("submittedAt"))
    values = {str(v.get("name")): v.get("value") for v in item.get("values") or []}
    email = None if contact_id else values.get("email")
    if moment is None or not (contact_id or email):
        return None
    name = str(form.get("name") or "")
    attributes: dict[str, Any] = {"form": name, "recorded_by": "form_submissions"}
    if item.get("pageUrl"):
        attributes["url"] = item["pageUrl"]
    ident = item.get("conversionId")
    return Activity(
        contact_id,
        conversion_type(name),
        moment,
        id=None if ident is None else f"form:{ident}",
        attributes=attributes,
        source=SYSTEM,
        contact_email=None if email is None else str(email),
    )


def pull_form_submissions(
    api: HubSpotApi, state: Mapping[str, Any], lookback_ms: int
) -> Iterator[Page]:
    """Each form's submissions newer than the cursor less the look-back, newest first.

    The forms are read side by side (each is a chain of pages, one waiting on the
    next), so the stream runs at the rate limit rather than at the network's pace.
    The cursor, given with a last empty page, is the newest submission seen less the
    pull's own length: one made to a form after its walk passed is not passed over.
    """
    if not has_form_submissions(api):
        return
    since = state.get("submitted_since")
    floor = None if since is None else int(since) - lookback_ms
    began = api.policy.clock.now()
    newest: dict[str, int] = {}

    def walk(form: Mapping[str, Any]) -> Iterator[Page]:
        path = SUBMISSIONS_PATH.format(form=form["id"])

        def page(after: str | None) -> tuple[Page, str | None]:
            params = {"limit": SUBMISSIONS_PAGE, **({} if after is None else {"after": after})}
            body = api.get("forms.submissions", path, params)
            activities, older = [], False
            for item in body.get("results") or []:
                at = item.get("submittedAt")
                if isinstance(at, int | float):
                    if floor is not None and at < floor:
                        older = True  # newest first: the rest were read before
                        break
                    newest[str(form["id"])] = max(newest.get(str(form["id"]), 0), int(at))
                activity = submission_activity(form, item)
                if activity is not None:
                    activities.append(activity)
            following = ((body.get("paging") or {}).get("next") or {}).get("after")
            following = None if older or following is None else str(following)
            return Page("form_submissions", (), activities, None), following

        return follow(page)

    walks = [functools.partial(walk, form) for form in list_forms(api)]
    yield from interleave(walks)
    walked_ms = round((api.policy.clock.now() - began) * 1000)
    seen = max(newest.values(), default=None)
    following = None if seen is None else seen - walked_ms
    if since is not None:
        following = int(since) if following is None else max(int(since), following)
    yield Page("form_submissions", (), [], dump_cursor(submitted_since=following))


def contact_submissions(api: HubSpotApi, record_id: str) -> list[Activity]:
    """One contact's form submissions, for a trigger's fetch: the legacy contact profile's
    `form-submissions`, named by the portal's forms (their conversion ids are the ones the
    stream reads, so the store keeps one of each). The forms are kept for a while
    (`HubSpotApi.remembered`), read again when the profile names one they lack."""
    listed: list[list[dict[str, Any]]] = []  # the list read as the probe, where it was
    if not has_form_submissions(api, lambda: listed.append(list_forms(api))):
        return []
    try:
        forms = api.remembered(KEPT_FORMS, lambda: listed.pop() if listed else list_forms(api))
    except ApiError as error:  # the forms scope, remembered, taken away since
        if api.refused(FORM_SUBMISSIONS, error):
            return []
        raise
    profile = api.get("contacts.profile", PROFILE_PATH.format(vid=record_id), {})
    named = {str(item.get("form-id")) for item in profile.get("form-submissions") or []}
    unlisted: set[str] = api.remembered(UNLISTED_FORMS, set)
    lacking = named - {str(f["id"]) for f in forms} - unlisted
    if lacking:  # a form made since they were read
        forms = api.remembered(KEPT_FORMS, lambda: list_forms(api), fresh=True)
        unlisted |= lacking - {str(f["id"]) for f in forms}
    names = {str(f["id"]): f for f in forms}
    found = []
    for item in profile.get("form-submissions") or []:
        form = names.get(str(item.get("form-id")), {"name": item.get("title") or ""})
        submission = {
            "conversionId": item.get("conversion-id"),
            "submittedAt": item.get("timestamp"),
            "pageUrl": item.get("page-url"),
        }
        activity = submission_activity(form, submission, record_id)
        if activity is not None:
            found.append(activity)
    return found
