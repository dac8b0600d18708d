"""The three emulators over one world: each vendor's SDK sees the same people."""

from __future__ import annotations

import numpy as np
from hubspot import HubSpot

from connectors.sandbox import Sandbox
from connectors.sandbox.mailchimp import sandbox_client
from connectors.sandbox.salesforce import connect
from connectors.sandbox.world import HUBSPOT, MAILCHIMP, SALESFORCE


def test_one_person_is_found_in_all_three_systems_under_their_own_spelling() -> None:
    with Sandbox(people=300, seed=5) as box:
        people = box.world.people
        everywhere = np.flatnonzero(people.systems == HUBSPOT | SALESFORCE | MAILCHIMP)
        person = int(everywhere[0])
        canonical = str(people.email[person])

        hubspot = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url)
        found = hubspot.crm.contacts.basic_api.get_by_id(
            people.email_in(HUBSPOT, person).strip(), id_property="email"
        )
        salesforce = connect(box.salesforce)
        escaped = people.email_in(SALESFORCE, person).strip().replace("'", "\\'")
        leads = salesforce.query(f"SELECT Email FROM Lead WHERE Email = '{escaped}'")
        contacts = salesforce.query(f"SELECT Email FROM Contact WHERE Email = '{escaped}'")
        mailchimp = sandbox_client(box.mailchimp)
        lists = mailchimp.lists.get_all_lists()
        member = mailchimp.lists.get_list_member(
            lists["lists"][0]["id"], people.email_in(MAILCHIMP, person).strip().lower()
        )

    assert found.properties["email"].strip().lower() == canonical
    records = leads["records"] + contacts["records"]
    assert [r["Email"].strip().lower() for r in records] == [canonical]
    assert member["email_address"].strip().lower() == canonical


def test_an_empty_sandbox_serves_no_people() -> None:
    with Sandbox() as box:
        hubspot = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url)
        page = hubspot.crm.contacts.basic_api.get_page(limit=10)
    assert page.results == []
