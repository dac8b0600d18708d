"""Contacts the rules exclude, synced to the Salesforce sandbox: their leadscore fields
are cleared once (null; a checkbox, which holds no null, unchecked), not written again
while excluded, and written again once the exclusion is lifted."""

from __future__ import annotations

from typing import Any

from connectors.salesforce.system import SF_CAPABILITIES
from sandbox.salesforce import SalesforceSandbox
from scoring import RuleSet
from scoring.exclude_rules import Exclusion
from sync import StateStore, SyncOptions
from sync.fields import SCORED_AT, FieldMap
from tests.sandbox.salesforce_helpers import stored_record
from tests.sync.test_sync_salesforce import box, make_sync, people_of, rules  # noqa: F401


def ours(sandbox: SalesforceSandbox, ruleset: RuleSet) -> dict[str, dict[str, Any]]:
    """The leadscore fields of every record, scoring time aside."""
    names = [
        s.name for s in FieldMap.for_rules(ruleset, SF_CAPABILITIES).specs if s.key != SCORED_AT
    ]
    out = {}
    for record in people_of(sandbox):
        stored = stored_record(sandbox, record) or {}
        lowered = {k.lower(): v for k, v in stored.items()}
        out[record] = {name: lowered.get(name.lower()) for name in names}
    return out


def test_excluded_records_are_cleared_once_and_written_again_when_lifted(
    box: SalesforceSandbox,  # noqa: F811
    rules: RuleSet,  # noqa: F811
    store: StateStore,
) -> None:
    make_sync(box, rules, store).run(SyncOptions(full=True))
    before = ours(box, rules)
    emails = {r: (stored_record(box, r) or {}).get("Email") for r in before}
    chosen = sorted(r for r, e in emails.items() if e)[:4]
    ruled = rules.model_copy(update={"exclude": Exclusion(emails=[str(emails[r]) for r in chosen])})

    cleared = make_sync(box, ruled, store).run()
    after = ours(box, rules)
    assert cleared.status == "ok" and cleared.systems["salesforce"].written >= len(chosen)
    for record, values in after.items():
        if emails.get(record) in {emails[r] for r in chosen}:
            assert {v for v in values.values()} <= {None, False}, values
        else:
            assert values == before[record]

    again = make_sync(box, ruled, store).run(SyncOptions(full=True))
    assert again.changed == 0 and again.systems["salesforce"].written == 0
    assert ours(box, rules) == after

    lifted = make_sync(box, rules, store).run()
    assert lifted.status == "ok" and lifted.changed >= len(chosen)
    assert ours(box, rules) == before
