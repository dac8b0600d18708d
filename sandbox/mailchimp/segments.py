"""Tags as static segments: which exist, how many members each has, and their JSON.

Mailchimp's tags are static segments of the list: the segments API lists them
(type "static"), creates them and adds or removes members in bulk. A tag's
member count comes from the world's counts, corrected by the members edited
since, so that nobody is projected to count it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.projection import TAG_OF_ACTION, WorldIndex
from sandbox.mailchimp.values import iso
from scoring.records import TYPE_CODES, ActivityType

WORLD_TAG_TYPES = {
    "newsletter": ActivityType.NEWSLETTER_SIGNUP,
    "customer": ActivityType.PURCHASE,
}
assert set(WORLD_TAG_TYPES) == set(TAG_OF_ACTION.values())


def world_tag_counts(index: WorldIndex | None) -> dict[str, int]:
    """How many world members hold each world tag."""
    if index is None:
        return {}
    kinds = index.column(index.world.events.type)
    return {
        name: len(np.unique(index.rows[kinds == TYPE_CODES[kind]]))
        for name, kind in WORLD_TAG_TYPES.items()
    }


def tag_member_count(audience: Audience, name: str) -> int:
    """Members holding the tag: the world's count, corrected by the edited members."""
    count = audience.world_tag_counts.get(name, 0)
    for member in audience.edited.values():
        count += (name in member.tags) - (name in member.world_tags)
    return count


def segment_names(audience: Audience) -> list[str]:
    """Every tag of the list, in the order of their ids."""
    names = {name for name, count in audience.world_tag_counts.items() if count}
    names.update(audience.tag_created)
    for member in audience.edited.values():
        names.update(member.tags)
    return sorted(names, key=audience.tag_id)


def segment_json(audience: Audience, name: str, epoch: float) -> dict[str, Any]:
    created = audience.tag_created.get(name, epoch - 365 * 86_400)
    return {
        "id": audience.tag_id(name),
        "name": name,
        "member_count": tag_member_count(audience, name),
        "type": "static",
        "created_at": iso(created),
        "updated_at": iso(audience.tag_updated.get(name, created)),
        "options": {},
        "list_id": audience.list_id,
    }
