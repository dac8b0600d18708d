"""Every webhook endpoint leadscore serves, one per system's way of asking."""

from __future__ import annotations

from sync.web.endpoint import Endpoint


def all_endpoints() -> tuple[Endpoint, ...]:
    """The endpoints, imported on first use (each module is light: no SDK, no store)."""
    from sync.web.hubspot import HubSpotEndpoint
    from sync.web.mailchimp import MailchimpEndpoint
    from sync.web.salesforce import FlowEndpoint, OutboundEndpoint

    return (HubSpotEndpoint(), OutboundEndpoint(), FlowEndpoint(), MailchimpEndpoint())
