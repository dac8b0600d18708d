"""A local emulator of the part of the Mailchimp Marketing API v3 that leadscore uses.

`MailchimpSandbox` is a real HTTP server that the official `mailchimp-marketing`
SDK talks to unchanged once `sandbox_client` points its host at it. It follows
Mailchimp's API reference (as SDK 3.0.80 mirrors it), its Errors and
Fundamentals pages and its batch-endpoint guide; it simplifies to one account
with one audience and one store projected from the world, and serves only the
endpoints leadscore calls. docs/sandbox.md lists every source and simplification,
and what the SDK does with the answers.

Layout: `emulator` wires the route mixins (`list_routes`, `member_routes`,
`subscribe_routes`, `activity_routes`, `report_routes`, `store_routes`,
`batch_routes`) over `state`; the world becomes an `audience` (`projection`,
`member_json`), `campaigns`, `orders` and `batches`; `arguments`, `answers`,
`problems` and `values` serve them all; `segments` and `segment_routes` serve tags as
static segments; `client` holds `sandbox_client`.
"""

from sandbox.mailchimp.client import sandbox_client
from sandbox.mailchimp.emulator import MailchimpSandbox
from sandbox.mailchimp.orders import customer_id
from sandbox.mailchimp.store_routes import STORE_ID
from sandbox.mailchimp.values import API_ROOT, iso, subscriber_hash

__all__ = [
    "API_ROOT",
    "STORE_ID",
    "MailchimpSandbox",
    "customer_id",
    "iso",
    "sandbox_client",
    "subscriber_hash",
]
