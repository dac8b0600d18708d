"""Mailchimp's standard merge fields and member values as rule attributes (the default mapping).

The merge tags every new audience has (FNAME, LNAME, ADDRESS, PHONE; the
merge-fields guide, https://mailchimp.com/developer/marketing/docs/merge-fields/)
and the common COMPANY; the member's `status`, `member_rating` and `tags` are
attributes under those names already. An account's own mapping
(`LEADSCORE_MAILCHIMP__ATTRIBUTES`) is added on top and wins.
"""

from __future__ import annotations

from connectors.attributes import AttributeMap

MAILCHIMP_ATTRIBUTES = AttributeMap(
    {
        "FNAME": "first_name",
        "LNAME": "last_name",
        "PHONE": "phone",
        "COMPANY": "company",
    }
)
