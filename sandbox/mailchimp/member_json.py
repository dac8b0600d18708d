"""A member as the API shows it: its JSON, with computed stats and rating."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.projection import EMAIL_ACTIONS
from sandbox.mailchimp.values import iso, short_id, subscriber_hash, web_id


def member_rating(status: str, events: Iterable[tuple[str, int]]) -> int:
    """Mailchimp's 1 to 5 stars; here 2, plus one per 4 points of opens (1) and clicks (2),
    from the member's (action, campaign) pairs."""
    if status in ("unsubscribed", "cleaned"):
        return 1
    points = sum(1 if action == "open" else 2 if action == "click" else 0 for action, _ in events)
    return min(5, 2 + points // 4)


def member_stats(events: Iterable[tuple[str, int]]) -> dict[str, float]:
    """Shares of the campaigns a member received that they opened and clicked."""
    pairs = [(a, c) for a, c in events if c >= 0]
    received = {c for a, c in pairs if a in EMAIL_ACTIONS}
    opened = {c for a, c in pairs if a in ("open", "click")}
    clicked = {c for a, c in pairs if a == "click"}
    total = len(received) or 1
    return {
        "avg_open_rate": round(len(opened) / total, 4),
        "avg_click_rate": round(len(clicked) / total, 4),
    }


def member_json(
    audience: Audience, row: int, keys: Collection[str] | None = None
) -> dict[str, Any]:
    """The member at `row` as the API shows it; only its `keys` when given (Mailchimp's
    `fields`: what is not asked for is not made)."""
    member, events = audience.view(row)
    status = audience.status(row)
    ident = subscriber_hash(member.email)

    def names() -> str:
        first, last = member.merge_fields.get("FNAME", ""), member.merge_fields.get("LNAME", "")
        return " ".join(str(n) for n in (first, last) if n)

    def tags() -> list[dict[str, Any]]:
        return [{"id": audience.tag_id(name), "name": name} for name in sorted(member.tags)]

    made: dict[str, Callable[[], Any]] = {
        "id": lambda: ident,
        "email_address": lambda: member.email,
        "unique_email_id": lambda: short_id("unique", ident),
        "contact_id": lambda: audience.contact_id(row),
        "full_name": names,
        "web_id": lambda: web_id("member", ident),
        "email_type": lambda: member.email_type,
        "status": lambda: status,
        "merge_fields": lambda: dict(member.merge_fields),
        "interests": dict,
        "stats": lambda: member_stats(events),
        "ip_signup": str,
        "timestamp_signup": lambda: iso(member.signup),
        "ip_opt": str,
        "timestamp_opt": lambda: iso(member.signup),
        "member_rating": lambda: member_rating(status, events),
        "last_changed": lambda: iso(audience.last_changed(row)),
        "language": lambda: member.language,
        "vip": lambda: member.vip,
        "email_client": str,
        "location": lambda: {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": lambda: member.source,
        "tags_count": lambda: len(member.tags),
        "tags": tags,
        "list_id": lambda: audience.list_id,
    }
    return {key: make() for key, make in made.items() if keys is None or key in keys}
