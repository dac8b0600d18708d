"""Salesforce's standard Lead and Contact fields as rule attributes (the default mapping).

Field names from the Object Reference (Lead, Contact, Account). A Lead holds its
company's facts itself (Industry, NumberOfEmployees, AnnualRevenue, Country); a
Contact holds them on its Account, read through the relationship
(`Account.Industry`). An org's own mapping (`LEADSCORE_SALESFORCE__ATTRIBUTES`) is
added on top and wins.
"""

from __future__ import annotations

from connectors.attributes import AttributeMap, number_or_range

SALESFORCE_ATTRIBUTES = AttributeMap(
    {
        "FirstName": "first_name",
        "LastName": "last_name",
        "Title": "job_title",
        "Company": "company",
        "AccountId": "account_id",  # a Contact's; a Lead has none (its Company text)
        "Industry": "industry",
        "Account.Industry": "industry",
        "NumberOfEmployees": "employees",
        "Account.NumberOfEmployees": "employees",
        "AnnualRevenue": "annual_revenue",
        "Account.AnnualRevenue": "annual_revenue",
        "Country": "country",
        "MailingCountry": "country",
        "LeadSource": "lead_source",
        "Status": "lead_status",
        "HasOptedOutOfEmail": "email_opted_out",
    },
    readers={"employees": number_or_range, "annual_revenue": number_or_range},
    any_case=True,
)
"""Lead or Contact field -> rule attribute. Salesforce's field names are case-insensitive
(an org's mapping may say `title` for `Title`), so they match in any case."""
