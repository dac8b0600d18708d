"""HubSpot's standard contact properties as rule attributes (the default mapping).

Property names from HubSpot's default contact properties (`jobtitle`,
`numemployees`, `annualrevenue`, `hs_lead_status`, `lifecyclestage`,
`job_function`, `hs_seniority`, `hs_buying_role`); see docs/sandbox.md for the
sources. `numemployees` is a dropdown of ranges ("100-500", "1000+"), read as
the lower end. A portal's own mapping (`LEADSCORE_HUBSPOT__ATTRIBUTES`) is
added on top and wins.
"""

from __future__ import annotations

from connectors.attributes import AttributeMap, number_or_range

HUBSPOT_ATTRIBUTES = AttributeMap(
    {
        "firstname": "first_name",
        "lastname": "last_name",
        "jobtitle": "job_title",
        "numemployees": "employees",
        "annualrevenue": "annual_revenue",
        "hs_lead_status": "lead_status",
        "lifecyclestage": "lifecycle_stage",
        "hs_seniority": "seniority",
        "hs_buying_role": "buying_role",
        "associatedcompanyid": "account_id",  # the primary company (read-only)
    },
    readers={"employees": number_or_range, "annual_revenue": number_or_range},
)
"""HubSpot property -> rule attribute; `job_function` (a HubSpot property of that very
name), `industry` and `country` need no mapping."""
