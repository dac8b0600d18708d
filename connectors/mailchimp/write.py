"""Scores into audience members: merge fields by PATCH, the stage as a tag; nobody created.

A write never creates a member, never resubscribes one and never sets a status.
Mailchimp's batch subscribe (`POST /lists/{list_id}`, `lists.batch_list_members`,
500 members a call) is not used: it adds the members it does not know (it is
"batch subscribe or unsubscribe"; each member needs a `status`, and only
`update_existing` decides whether existing members' subscription status changes:
API reference https://mailchimp.com/developer/marketing/api/lists/batch-subscribe-or-unsubscribe/
as mirrored by the SDK 3.0.80 docstring and e.g.
https://docs.rs/mailchimp/0.1.10/mailchimp/types/struct.ListBatchParam.html), so a member
archived or deleted since the pull would come back. Instead every member is written with
`PATCH /lists/{list_id}/members/{subscriber_hash}` ("Update list member", which only
updates: an unknown hash is a 404 and nobody is made; the guide "Manage subscribers"
https://developer.mailchimp.com/documentation/mailchimp/guides/manage-subscribers-with-the-mailchimp-api/:
"If the call returns a 404 response, the subscriber isn't on your list. They may have
been deleted"). The body holds `merge_fields` only, never `status`, so an archived
member stays archived. A 404 is the member gone (`WriteOutcome.gone`); another 4xx is
that member's failure with Mailchimp's detail, not retried until its values change;
a 5xx or a lost answer (after the policy's retries) is retried by the next run.

The stage, when tags are on (`LEADSCORE_MAILCHIMP__TAGS`), is also a tag
`leadscore: <stage>`: `POST /lists/{list_id}/members/{subscriber_hash}/tags` with the
new tag `active` and every other `leadscore: ` tag of the audience `inactive` (an
unknown tag set active is made, inactive removes it: SDK docstring of
`update_list_member_tags`). The audience's stage tags are read once per write
(`lists.list_segments` type=static: tags are static segments), so an old stage tag is
made inactive whatever the store knows. A member the pull saw holding exactly its new
stage tag gets no tag operation.

Two paths, by the number of writes of the run (`batch_write_above`, default 20):
- at most that many: direct calls, `lists.update_list_member` then, for a stage,
  `lists.update_list_member_tags`, in parallel under the 10-connection cap: at most 2
  calls a member, all landed within a few round trips (a trigger's write lands now);
- more: `POST /batches` of the same PATCH and tag operations (`connectors.mailchimp.batch`),
  1 start, 1 status read at least and 1 download per 10,000 operations, plus the one
  segment read. For 50,000 members with a stage change each: 100,000 operations, 10
  batches, 31 calls at the fewest, 32 in the sandbox's bench (the first batch is read once
  more before a pace is known; `connectors.mailchimp.batch`, bench/mailchimp_sync.py).
  The alternatives, counted for the same run: batch subscribe would be 100 calls of 500
  (and creates members);
  stage tags through the static segment endpoint (`lists.batch_segment_members`, 500
  addresses a call, one tag a call) would add at least 100 calls to add the new tags
  and 100 to remove old ones, against 0 inside the batches. So batches, with the tags inside them.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from connectors.errors import ApiError, AuthError, BudgetExhausted
from connectors.mailchimp import keys
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.gate import CONNECTIONS
from connectors.mailchimp.keys import split_member_key
from connectors.mailchimp.system import STAGE_TAG
from connectors.protocol import Gone, Write, WriteFailure, WriteOutcome
from connectors.values import finite_number, parse_time

log = logging.getLogger(__name__)

PATCH = "lists.update_list_member"
TAGS = "lists.update_list_member_tags"
SEGMENTS = "lists.list_segments"
STAGE_FIELD = re.compile(r"(?:[A-Z][A-Z0-9]_)?STAGE")
"""Our stage's merge tag (`LS_STAGE`; `STAGE` for an empty prefix): see `system.merge_tag`."""
SEGMENT_PAGE = 1000


@dataclass(frozen=True)
class MemberWrite:
    """One member's write as Mailchimp takes it: where, the merge fields, the tag change."""

    record_id: str
    list_id: str
    member_hash: str
    """What the member endpoint takes: its contact id (or subscriber hash)."""
    merge_fields: Mapping[str, str]
    tags: list[dict[str, str]] | None
    """The body's `tags` of a stage change; None: no tag operation."""
    tags_hash: str = ""
    """What the tags endpoint takes: the subscriber hash (its reference names no other)."""
    email: str | None = None
    """The member's address, as the pull read it."""

    @property
    def path(self) -> str:
        return f"/lists/{self.list_id}/members/{self.member_hash}"

    @property
    def tags_path(self) -> str:
        return f"/lists/{self.list_id}/members/{self.tags_hash or self.member_hash}/tags"


def stage_of(values: Mapping[str, str]) -> str | None:
    """The stage a write sets (its stage merge field), or None when it sets none."""
    for name, value in values.items():
        if STAGE_FIELD.fullmatch(name):
            return value
    return None


def audience_stage_tags(
    api: MailchimpApi, list_id: str, skipped: Counter[str] | None = None
) -> set[str]:
    """The `leadscore: ` tags the audience has (tags are its static segments); a segment
    that is not an object with a text name is passed over and counted in `skipped`."""
    counts: Counter[str] = Counter() if skipped is None else skipped
    found: set[str] = set()
    offset = 0
    while True:
        data = api.call(
            SEGMENTS,
            list_id,
            type="static",
            count=SEGMENT_PAGE,
            offset=offset,
            fields=["segments.name", "total_items"],
        )
        segments = data.get("segments") if isinstance(data, Mapping) else None
        if not isinstance(segments, list):
            segments = []
        for segment in segments:
            name = segment.get("name") if isinstance(segment, Mapping) else None
            if not isinstance(name, str):
                counts["segment"] += 1
            elif name.startswith(STAGE_TAG):
                found.add(name)
        offset += len(segments)
        total = finite_number(data.get("total_items")) if isinstance(data, Mapping) else None
        if not segments or total is None or offset >= total:
            if counts["segment"]:
                log.warning("%d of the audience's segments were not readable", counts["segment"])
            return found


class StageTags:
    """Audiences' stage tags as a trigger's fetch read them, beside the member, so that its
    write does not read them again (a round of calls fewer); kept `FRESH_FOR` seconds and
    given the tags this process's writes make. Another process's new stage tag set on a
    member within those seconds could be left active by a write here: that window is the
    price of the round."""

    FRESH_FOR = 30.0

    def __init__(self) -> None:
        self._read: dict[str, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()

    def read(self, api: MailchimpApi, list_id: str) -> None:
        """Read an audience's stage tags now; a failure leaves them to the write."""
        began = api.policy.clock.now()
        try:
            found = audience_stage_tags(api, list_id)
        except ApiError:
            return
        with self._lock:
            self._read[list_id] = (began, found)

    def fresh(self, now: float) -> dict[str, set[str]]:
        """The audiences' tags read within `FRESH_FOR` seconds of `now`."""
        with self._lock:
            return {k: set(v) for k, (at, v) in self._read.items() if now - at < self.FRESH_FOR}

    def note(self, members: Sequence[MemberWrite]) -> None:
        """The stage tags these writes make active now exist in their audiences."""
        with self._lock:
            for member in members:
                kept = self._read.get(member.list_id)
                if kept is not None and member.tags:
                    kept[1].update(t["name"] for t in member.tags if t["status"] == "active")


def tag_change(stage: str, known: set[str]) -> list[dict[str, str]]:
    """The new stage's tag active, every other stage tag inactive ("" clears them all)."""
    new = STAGE_TAG + stage if stage else None
    changes = [{"name": new, "status": "active"}] if new else []
    return changes + [{"name": t, "status": "inactive"} for t in sorted(known) if t != new]


def member_writes(
    api: MailchimpApi,
    writes: Sequence[Write],
    tagging: bool,
    held: Mapping[str, frozenset[str]],
    outcome: WriteOutcome,
    read: Mapping[str, set[str]] | None = None,
) -> list[MemberWrite]:
    """The writes as member writes; an id that is not a member's is a failure in `outcome`.
    `held`: the stage tags each member held when pulled (for those the pull saw); `read`:
    audiences' stage tags read moments ago (`StageTags`), not read again."""
    planned: list[tuple[Write, str, str, str | None]] = []
    for write in writes:
        try:
            list_id, member_hash = split_member_key(write.record_id)
        except ValueError as error:
            outcome.failed.append(WriteFailure(write.record_id, str(error), retryable=False))
            continue
        stage = stage_of(write.values) if tagging else None
        if stage is not None and held.get(write.record_id) == frozenset({STAGE_TAG + stage}):
            stage = None  # it holds exactly this stage's tag already
        planned.append((write, list_id, member_hash, stage))
    known: dict[str, set[str]] = {k: set(v) for k, v in (read or {}).items()}
    for _, list_id, _, stage in planned:
        if stage is not None and list_id not in known:
            known[list_id] = audience_stage_tags(api, list_id)
    return [
        MemberWrite(
            write.record_id,
            list_id,
            member_hash,
            dict(write.values),
            tag_change(stage, known[list_id] | {STAGE_TAG + stage}) if stage is not None else None,
            keys.member_hash(write.email) if write.email else "",
            write.email,
        )
        for write, list_id, member_hash, stage in planned
    ]


def settle(outcome: WriteOutcome, member: MemberWrite, status: int, detail: str) -> None:
    """One member's result into `outcome`: 2xx written, 404 gone, else failed (a 4xx
    other than 429 not retried until its values change)."""
    if 200 <= status < 300:
        outcome.written.append(member.record_id)
    elif status == 404:
        # deleted for good: what the member did in the audience goes with it
        taken = keys.audience_activity(member.record_id, member.email, member.list_id)
        outcome.gone.append(Gone(member.record_id, withdrawn=(taken,)))
    else:
        retryable = status == 429 or status >= 500 or status == 0
        outcome.failed.append(WriteFailure(member.record_id, detail, retryable))


def write_direct(api: MailchimpApi, members: Sequence[MemberWrite]) -> WriteOutcome:
    """Each member by its own calls, in parallel under the connection cap."""
    outcome = WriteOutcome()

    def one(member: MemberWrite) -> tuple[int, str, str | None]:
        try:
            answer = api.call(PATCH, member.list_id, member.member_hash,
                              {"merge_fields": dict(member.merge_fields)})  # fmt: skip
            if member.tags is not None:  # by the hash of the address the member has now
                hashed = str(answer.get("id") or "") or member.tags_hash or member.member_hash
                api.call(TAGS, member.list_id, hashed, {"tags": member.tags})
        except (AuthError, BudgetExhausted):
            raise
        except ApiError as error:
            return error.status or 0, str(error), None
        return 200, "", str(answer.get("last_changed") or "") or None

    with ThreadPoolExecutor(max_workers=CONNECTIONS, thread_name_prefix="mc-write") as pool:
        results = list(pool.map(one, members))
    for member, (status, detail, changed) in zip(members, results, strict=True):
        settle(outcome, member, status, detail)
        stamp_of(outcome, changed)
    return outcome


def stamp_of(outcome: WriteOutcome, changed: str | None) -> None:
    """Keep the latest `last_changed` Mailchimp answered for what landed."""
    moment = parse_time(changed)
    if moment is None:
        return
    if not outcome.stamps:
        outcome.stamps.append(moment)
    elif moment > outcome.stamps[0]:
        outcome.stamps[0] = moment
