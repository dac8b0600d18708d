"""Where a stage the ladder gained goes in a HubSpot dropdown: in ladder order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.setup import in_ladder_order

LADDER = ["Prospect", "Lead", "MQL", "SQL", "Won"]


def test_a_stage_between_two_held_ones_goes_between_them() -> None:
    assert in_ladder_order(["Prospect", "Lead", "SQL", "Won"], LADDER) == LADDER


def test_a_first_stage_goes_before_the_held_ones_and_a_users_own_value_stays() -> None:
    held = ["Lead", "Parked", "MQL"]
    assert in_ladder_order(held, ["Prospect", "Lead", "MQL"]) == [
        "Prospect",
        "Lead",
        "Parked",
        "MQL",
    ]


@given(st.lists(st.sampled_from(LADDER), unique=True), st.lists(st.text(min_size=1), max_size=3))
def test_every_ladder_value_is_present_once_and_the_ladder_keeps_its_order(
    held_ladder: list[str], own: list[str]
) -> None:
    held_ladder = [v for v in LADDER if v in held_ladder]  # HubSpot held them in order
    own = [v for v in dict.fromkeys(own) if v not in LADDER]
    held = held_ladder + own
    result = in_ladder_order(held, LADDER)

    assert sorted(result) == sorted(set(held) | set(LADDER))
    assert [v for v in result if v in LADDER] == LADDER
    assert [v for v in result if v in own] == own
