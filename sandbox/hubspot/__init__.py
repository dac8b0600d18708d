"""A local emulator of the part of HubSpot's public API that leadscore uses.

`HubSpotSandbox` is a real HTTP server that the official `hubspot-api-client`
SDK talks to unchanged once built with `HubSpot(access_token=sandbox.token,
host=sandbox.base_url)`. It serves a `World`'s HubSpot people as contacts, its
email events through the legacy email events API, and its meetings, sales
touches, quotes and purchases as associated meetings, calls, emails and deals.
It follows HubSpot's usage guidelines (limits by tier, 429 bodies, rate-limit
headers), the CRM search guide, the CRM objects v3, properties v3, associations
v4 and email events v1 references. It simplifies: only those endpoints, contact
properties only, no creating, merging or archiving contacts, lifecycle stage
writes that go backwards fail visibly, and our own wording where HubSpot's is
not published. docs/sandbox.md lists every source and simplification.

Layout: `emulator` wires the routes (`contact_routes`, `search_routes`,
`property_routes`, `email_event_routes`, `object_routes`, `association_routes`)
and `simulation` (`add_event`) over `state`; the world becomes `contact_table`
columns (`contact_projection`, `contact_events`), an `email_log` and
`crm_objects`; `search_filters`, `rate_limits`, `errors`, `record_json`,
`properties`, `arguments`, `answers` and `values` serve them all.
"""

from sandbox.hubspot.emulator import HubSpotSandbox
from sandbox.hubspot.properties import DEFAULT_CONTACT_PROPERTIES, LIFECYCLE_STAGES

__all__ = ["DEFAULT_CONTACT_PROPERTIES", "LIFECYCLE_STAGES", "HubSpotSandbox"]
