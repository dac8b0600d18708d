"""The three emulators over one world: each vendor's SDK sees the same people."""

from __future__ import annotations

import numpy as np
from hubspot import HubSpot

from sandbox import Sandbox
from sandbox.mailchimp import sandbox_client
from sandbox.salesforce import connect
from sandbox.world.tables import HUBSPOT, MAILCHIMP, SALESFORCE


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


def test_only_the_tool_that_sent_a_campaign_reports_its_email_events() -> None:
    from datetime import UTC, datetime

    from sandbox.world.tables import WorldBuilder
    from scoring import ActivityType

    builder = WorldBuilder(datetime(2026, 11, 1, tzinfo=UTC))
    person = builder.person("Ann", "Lee", "ann@acme.io", builder.company("Acme", "acme.io"))
    by_hubspot = builder.campaign("hs", "From HubSpot", datetime(2026, 10, 1, tzinfo=UTC), HUBSPOT)
    by_mailchimp = builder.campaign(
        "mc", "From Mailchimp", datetime(2026, 10, 2, tzinfo=UTC), MAILCHIMP
    )
    for campaign, day in ((by_hubspot, 1), (by_mailchimp, 2)):
        sent = datetime(2026, 10, day, 9, tzinfo=UTC)
        builder.event(person, ActivityType.EMAIL_SENT, sent, campaign=campaign)
        builder.event(person, ActivityType.EMAIL_OPEN, sent.replace(hour=10), campaign=campaign)

    with Sandbox(builder.build()) as box:
        hubspot = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url)
        contact = hubspot.crm.contacts.basic_api.get_by_id("1", properties=["hs_email_open"])

    assert contact.properties["hs_email_open"] == "1"
