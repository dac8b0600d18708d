"""The activity streams' read of the archived members: once for the streams pulled side by
side, again for a later pull, over the sandbox and the real SDK."""

from __future__ import annotations

from itertools import zip_longest

from connectors.mailchimp.connector import MailchimpConnector
from connectors.protocol import Page
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.client import sandbox_client
from sandbox.world.generate import generate_world

MEMBER_LIST = "lists.get_list_members_info"


def addresses(pages: list[Page]) -> set[str]:
    return {(a.contact_email or "").lower() for page in pages for a in page.activities}


def test_streams_side_by_side_share_one_read_and_a_later_pull_reads_again() -> None:
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(500)) as box:
        connector = MailchimpConnector(
            api_key=box.api_key, base_url=box.base_url, clock=box.clock, seed=0,
            audiences=[box.list_id],
        )  # fmt: skip
        activity, orders = connector.pull("email_activity", None), connector.pull("orders", None)
        both = [page for pair in zip_longest(activity, orders) for page in pair if page]
        assert any(page.stream == "orders" and page.activities for page in both)
        assert any(page.stream == "email_activity" and page.activities for page in both)
        assert connector.calls()[MEMBER_LIST] == 1  # the archived members, read once

        # a member archived since: the next pull reads the archived members again
        address = sorted(addresses([p for p in both if p.stream == "email_activity"]))[0]
        sandbox_client(box).lists.delete_list_member(box.list_id, address)
        again = list(connector.pull("email_activity", None))
        assert connector.calls()[MEMBER_LIST] == 2
        assert addresses(again) and address not in addresses(again)
