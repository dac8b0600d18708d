"""A member as the API shows it: its JSON, with computed stats and rating."""

from __future__ import annotations

from typing import Any

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.projection import EMAIL_ACTIONS, MemberEvent
from sandbox.mailchimp.values import iso, md5_hex, short_id, subscriber_hash, web_id


def member_rating(status: str, events: list[MemberEvent]) -> int:
    """Mailchimp's 1 to 5 stars; here 2, plus one per 4 points of opens (1) and clicks (2)."""
    if status in ("unsubscribed", "cleaned"):
        return 1
    points = sum(1 if e.action == "open" else 2 if e.action == "click" else 0 for e in events)
    return min(5, 2 + points // 4)


def member_stats(events: list[MemberEvent]) -> dict[str, float]:
    """Shares of the campaigns a member received that they opened and clicked."""
    received = {e.campaign for e in events if e.campaign >= 0 and e.action in EMAIL_ACTIONS}
    opened = {e.campaign for e in events if e.campaign >= 0 and e.action in ("open", "click")}
    clicked = {e.campaign for e in events if e.campaign >= 0 and e.action == "click"}
    total = len(received) or 1
    return {
        "avg_open_rate": round(len(opened) / total, 4),
        "avg_click_rate": round(len(clicked) / total, 4),
    }


def member_json(audience: Audience, row: int) -> dict[str, Any]:
    member, status = audience.member(row), audience.status(row)
    ident = subscriber_hash(member.email)
    names = (str(member.merge_fields.get("FNAME", "")), str(member.merge_fields.get("LNAME", "")))
    tags = [{"id": audience.tag_id(name), "name": name} for name in sorted(member.tags)]
    return {
        "id": ident,
        "email_address": member.email,
        "unique_email_id": short_id("unique", ident),
        "contact_id": md5_hex(f"contact/{ident}"),
        "full_name": " ".join(n for n in names if n),
        "web_id": web_id("member", ident),
        "email_type": member.email_type,
        "status": status,
        "merge_fields": dict(member.merge_fields),
        "interests": {},
        "stats": member_stats(member.events),
        "ip_signup": "",
        "timestamp_signup": iso(member.signup),
        "ip_opt": "",
        "timestamp_opt": iso(member.signup),
        "member_rating": member_rating(status, member.events),
        "last_changed": iso(audience.last_changed(row)),
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": member.source,
        "tags_count": len(tags),
        "tags": tags,
        "list_id": audience.list_id,
    }
