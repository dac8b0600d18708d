"""What HubSpot's deals, meetings, calls and sales emails become, without any I/O.

- A deal is a quote while it is open at a stage whose probability is at least
  `QUOTE_PROBABILITY`, and a purchase once won: `hs_is_closed_won`, or a closed
  stage of probability 1 (stages come from the pipelines, so custom pipelines
  with numeric stage ids are understood). A lost deal is neither, and a deal read
  again once it is no longer won (lost after all, reopened) withdraws the purchases it
  gave (`deal_withdrawn`): RFM and the rules stop counting them.
- A meeting carries its `outcome` (completed, no_show, canceled, rescheduled,
  scheduled). A booking (outcome SCHEDULED) is dated when it was booked, not
  when it will take place, so a future meeting never passes for one held; one
  with any other outcome is dated by its start. The outcome is part of the
  activity id, so a booking later marked completed adds the meeting held
  beside the booking (the store keeps the first activity of each id).
- A call carries its `outcome` (the disposition's label, e.g. connected,
  no_answer) and `call_status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from connectors.hubspot.records import SYSTEM
from connectors.protocol import Withdrawn
from connectors.values import finite_number, label_of, parse_time
from scoring.records import Activity, ActivityType

ENGAGEMENTS: Mapping[str, ActivityType] = {
    "meetings": ActivityType.MEETING,
    "calls": ActivityType.SALES_TOUCH,
    "emails": ActivityType.SALES_TOUCH,
}
OBJECT_PROPERTIES: Mapping[str, list[str]] = {
    "meetings": [
        "hs_timestamp",
        "hs_meeting_title",
        "hs_meeting_start_time",
        "hs_meeting_outcome",
        "hs_createdate",
    ],
    "calls": ["hs_timestamp", "hs_call_title", "hs_call_disposition", "hs_call_status"],
    "emails": ["hs_timestamp", "hs_email_subject"],
    "deals": [
        "dealstage",
        "pipeline",
        "hs_is_closed_won",
        "amount",
        "deal_currency_code",
        "closedate",
        "createdate",
    ],
}
"""The properties read of each object type."""

CALL_DISPOSITIONS: Mapping[str, str] = {
    "9d9162e7-6cf3-4944-bf63-4dff82258764": "busy",
    "f240bbac-87c9-4f6e-bf70-924b57d47db7": "connected",
    "a4c4c377-d246-4b32-a13b-75a56a4cd0ff": "left_live_message",
    "b2cf5968-551e-4856-9783-52b3da59a7d0": "left_voicemail",
    "73a0d17f-1163-4015-bdd5-ec830791da20": "no_answer",
    "17b47fee-58de-441e-a44c-c6300d46f273": "wrong_number",
}
"""HubSpot's default call outcomes by id; a portal's own outcomes keep their id."""

QUOTE_PROBABILITY = 0.5
"""An open deal at a stage this likely to close has a proposal or quote out."""
DEFAULT_QUOTE_STAGES = frozenset({"contractsent", "presentationscheduled", "decisionmakerboughtin"})
DEFAULT_WON_STAGES = frozenset({"closedwon"})
"""Stages of HubSpot's default pipeline, used only when the pipelines could not be read."""


@dataclass(frozen=True)
class DealStage:
    """One stage of a deal pipeline: whether it is closed and how likely it closes won."""

    closed: bool
    probability: float | None

    @property
    def won(self) -> bool:
        return self.closed and (self.probability or 0.0) >= 1.0


def deal_stages(pipelines: Iterable[Mapping[str, Any]]) -> dict[str, DealStage]:
    """Stage id -> its metadata, from the CRM Pipelines API's answer (metadata are text)."""
    stages: dict[str, DealStage] = {}
    for pipeline in pipelines:
        for stage in pipeline.get("stages") or []:
            metadata = stage.get("metadata") or {}
            closed = str(metadata.get("isClosed", "false")).lower() == "true"
            stages[str(stage["id"])] = DealStage(closed, finite_number(metadata.get("probability")))
    return stages


def meeting_activity(
    record_id: str, properties: Mapping[str, Any], contact: str, subject: Any
) -> Activity | None:
    """A meeting held, missed or moved (dated by its start), or a booking (dated when booked)."""
    outcome = label_of(str(properties.get("hs_meeting_outcome") or ""))
    start = parse_time(properties.get("hs_meeting_start_time")) or parse_time(
        properties.get("hs_timestamp")
    )
    booked = parse_time(properties.get("hs_createdate"))
    moment = (booked or start) if outcome == "scheduled" else (start or booked)
    if moment is None:
        return None
    attributes: dict[str, Any] = {"subject": subject} if subject else {}
    if outcome:
        attributes["outcome"] = outcome
    # One activity per meeting and contact, revised as the meeting is: a booking later
    # held, or an outcome corrected, replaces what was stored (never a second meeting).
    return Activity(
        contact,
        ActivityType.MEETING,
        moment,
        id=f"meetings:{record_id}:{contact}",
        attributes=attributes,
        source=SYSTEM,
        revisable=True,
    )


def engagement_activities(
    kind: str, record_id: str, properties: Mapping[str, Any], contact_ids: Iterable[str]
) -> Iterator[Activity]:
    """A meeting, call or sales email, once per associated contact."""
    title = (
        properties.get("hs_meeting_title")
        or properties.get("hs_call_title")
        or properties.get("hs_email_subject")
    )
    if kind == "meetings":
        for contact in contact_ids:
            meeting = meeting_activity(record_id, properties, contact, title)
            if meeting is not None:
                yield meeting
        return
    moment = parse_time(properties.get("hs_timestamp")) or parse_time(
        properties.get("hs_createdate")
    )
    if moment is None:
        return
    attributes: dict[str, Any] = {"subject": title} if title else {}
    if kind == "calls":
        disposition = str(properties.get("hs_call_disposition") or "")
        if disposition:
            attributes["outcome"] = CALL_DISPOSITIONS.get(disposition, disposition)
        if properties.get("hs_call_status"):
            attributes["call_status"] = label_of(str(properties["hs_call_status"]))
    for contact in contact_ids:
        yield Activity(
            contact,
            ENGAGEMENTS[kind],
            moment,
            id=f"{kind}:{record_id}:{contact}",
            attributes=attributes,
            source=SYSTEM,
            revisable=True,  # a call's outcome is often logged after the call
        )


def deal_state(
    properties: Mapping[str, Any], stages: Mapping[str, DealStage] | None
) -> tuple[bool, bool]:
    """(quote out, won) of a deal, by its pipeline's stage metadata and `hs_is_closed_won`."""
    stage_id = str(properties.get("dealstage") or "")
    flag = str(properties.get("hs_is_closed_won") or "").lower()
    stage = (stages or {}).get(stage_id)
    if stage is None:
        # Pipelines unknown (or a stage since deleted): HubSpot's own flag, then the defaults.
        won = flag == "true" if flag else stage_id in DEFAULT_WON_STAGES
        return stage_id in DEFAULT_QUOTE_STAGES, won
    won = flag == "true" if flag else stage.won
    quoted = not stage.closed and (stage.probability or 0.0) >= QUOTE_PROBABILITY
    return quoted, won


def deal_withdrawn(
    record_id: str,
    properties: Mapping[str, Any],
    contact_ids: Iterable[str],
    stages: Mapping[str, DealStage] | None,
) -> list[Withdrawn]:
    """The purchases a deal read again no longer means (lost after all, reopened): each of
    its contacts' `deal:<id>:won:<contact>`, by id (none while the deal is won). Naming one
    the store never held does nothing."""
    _, won = deal_state(properties, stages)
    if won and parse_time(properties.get("closedate")) is not None:
        return []
    return [Withdrawn(f"deal:{record_id}:won:{contact}") for contact in contact_ids]


def deal_activities(
    record_id: str,
    properties: Mapping[str, Any],
    contact_ids: Iterable[str],
    stages: Mapping[str, DealStage] | None = None,
) -> Iterator[Activity]:
    """A quote while the deal is out, a purchase once it is won (with its amount); both
    revised as the deal is (an amount or close date put right replaces what was stored)."""
    created = parse_time(properties.get("createdate"))
    closed = parse_time(properties.get("closedate"))
    amount = finite_number(properties.get("amount"))
    money: dict[str, Any] = {"amount": amount} if amount is not None else {}
    if properties.get("deal_currency_code"):  # the amount's currency (RFM's `currency`)
        money["currency"] = str(properties["deal_currency_code"])
    if properties.get("pipeline"):
        money["pipeline"] = str(properties["pipeline"])
    quoted, won = deal_state(properties, stages)
    won = won and closed is not None
    # A won deal that was open for a while went through a quote first.
    quoted = quoted or (won and created is not None and closed is not None and created < closed)
    for contact in contact_ids:
        if quoted and created is not None:
            yield Activity(
                contact,
                ActivityType.QUOTE_SENT,
                created,
                id=f"deal:{record_id}:quote:{contact}",
                attributes=money,
                source=SYSTEM,
                revisable=True,
            )
        if won and closed is not None:
            yield Activity(
                contact,
                ActivityType.PURCHASE,
                closed,
                id=f"deal:{record_id}:won:{contact}",
                attributes=money,
                source=SYSTEM,
                revisable=True,
            )
