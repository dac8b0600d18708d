"""Test support for the HubSpot sandbox: what a HubSpot user does outside the API."""

from __future__ import annotations

from sandbox.hubspot import HubSpotSandbox


def contact_id_of(sandbox: HubSpotSandbox, email: str) -> str | None:
    """The id of the contact the sandbox holds under `email` (any case), if any."""
    with sandbox.lock:
        row = sandbox.contacts.row_of_email(email)
    return None if row is None else str(row + 1)


def touch(sandbox: HubSpotSandbox, contact_id: str, **properties: str | None) -> None:
    """Change properties as a HubSpot user or workflow would (read-only ones too).

    Moves lastmodifieddate to the sandbox's current time. An empty string or
    None clears a property.
    """
    with sandbox.lock:
        row = sandbox.contact_row(contact_id)
        values = {
            name: sandbox.contacts.coerce(name, raw, allow_read_only=True)
            for name, raw in properties.items()
        }
        sandbox.write_contact(row, values)
