"""Every webhook endpoint leadscore serves, one per system's way of asking.

Each path's endpoint is made (and its module imported) when a request first asks for
that path: a cold serverless start that answers HubSpot never loads the Salesforce
SOAP parser or Mailchimp's webhooks.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping

from sync.web.endpoint import Endpoint


def hubspot_endpoint() -> Endpoint:
    from sync.web.hubspot import HubSpotEndpoint

    return HubSpotEndpoint()


def hubspot_events_endpoint() -> Endpoint:
    from sync.web.hubspot_events import HubSpotEventsEndpoint

    return HubSpotEventsEndpoint()


def outbound_endpoint() -> Endpoint:
    from sync.web.salesforce import OutboundEndpoint

    return OutboundEndpoint()


def flow_endpoint() -> Endpoint:
    from sync.web.salesforce import FlowEndpoint

    return FlowEndpoint()


def mailchimp_endpoint() -> Endpoint:
    from sync.web.mailchimp import MailchimpEndpoint

    return MailchimpEndpoint()


ROUTES: dict[str, Callable[[], Endpoint]] = {
    "/hubspot": hubspot_endpoint,
    "/hubspot/events": hubspot_events_endpoint,
    "/salesforce/outbound": outbound_endpoint,
    "/salesforce/flow": flow_endpoint,
    "/mailchimp": mailchimp_endpoint,
}
"""Path -> how its endpoint is made (each endpoint's `path` says the same)."""


class Routes(Mapping[str, Endpoint]):
    """Path -> endpoint, each made on first use (`ROUTES`)."""

    def __init__(self) -> None:
        self._made: dict[str, Endpoint] = {}
        self._making = threading.Lock()

    def __getitem__(self, path: str) -> Endpoint:
        endpoint = self._made.get(path)
        if endpoint is None:
            make = ROUTES[path]  # KeyError: no such path
            with self._making:
                endpoint = self._made.get(path) or self._made.setdefault(path, make())
        return endpoint

    def __iter__(self) -> Iterator[str]:
        return iter(ROUTES)

    def __len__(self) -> int:
        return len(ROUTES)
