"""Members the rules exclude, synced to the Mailchimp sandbox: their leadscore merge
fields are emptied and their stage tag taken off once, and nothing is written again
while they stay excluded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES, STAGE_TAG
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.generate import generate_world
from scoring import RuleSet, load_rules
from scoring.exclude_rules import Exclusion
from sync import StateStore, Sync, SyncOptions, SyncSummary
from sync.fields import FieldMap

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


@pytest.fixture
def box() -> Iterator[MailchimpSandbox]:
    with MailchimpSandbox(generate_world(120, seed=4), clock=SandboxClock(500)) as emulator:
        yield emulator


def run(box: MailchimpSandbox, rules: RuleSet, store: StateStore, at: datetime) -> SyncSummary:
    fields = FieldMap.for_rules(rules, MAILCHIMP_CAPABILITIES)
    connector = MailchimpConnector(
        api_key=box.api_key, base_url=box.base_url, clock=box.clock, seed=0
    )
    connector.setup(fields.specs)
    sync = Sync(rules, store, [connector], {"mailchimp": fields}, clock=lambda: at)
    return sync.run(SyncOptions(workers=2))


def ours(box: MailchimpSandbox) -> dict[int, tuple[dict[str, object], set[str]]]:
    """Per member, the leadscore merge fields and stage tags it holds."""
    audience = box.audience
    out = {}
    for row in range(audience.size):
        member = audience.member(row)
        merge = {k: v for k, v in member.merge_fields.items() if k.startswith("LS_")}
        out[row] = (merge, {t for t in member.tags if t.startswith(STAGE_TAG)})
    return out


def test_excluded_members_are_cleared_once(box: MailchimpSandbox, store: StateStore) -> None:
    rules = load_rules(RULES)
    at = datetime.fromtimestamp(box.epoch).astimezone()
    first = run(box, rules, store, at)
    before = ours(box)
    scored = [
        row for row, (merge, tags) in before.items() if merge.get("LS_SCORE") not in (None, "")
    ]
    assert first.systems["mailchimp"].written > 5 and len(scored) > 5
    chosen = scored[:3]
    emails = [box.audience.emails[row] for row in chosen]
    ruled = rules.model_copy(update={"exclude": Exclusion(emails=emails)})

    cleared = run(box, ruled, store, at)
    after = ours(box)
    assert cleared.systems["mailchimp"].written == len(chosen)
    for row, (merge, tags) in after.items():
        if row in chosen:
            assert set(merge.values()) <= {"", None} and not tags, (merge, tags)
        else:
            assert (merge, tags) == before[row]

    again = run(box, ruled, store, at)
    assert again.changed == 0 and again.systems["mailchimp"].written == 0
    assert ours(box) == after
