"""HubSpotConnector's batch writes and property set-up, through the real SDK against the sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyUpdate
from urllib3.util.retry import Retry

from connectors.errors import RejectedError, ServerError
from connectors.hubspot import CAPABILITIES, HubSpotConnector, hubspot_limits
from connectors.policy import CallPolicy
from connectors.protocol import FieldSpec, Gone, Write, WriteOutcome
from sandbox import FaultPlan, Sandbox
from scoring import RuleSet, load_rules
from scoring.loader import parse_rules
from sync.fields import FieldMap

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
PEOPLE, SEED = 200, 3
BAD = "Champion"
"""A stage the default ladder does not have: HubSpot refuses a batch carrying it."""
NEW_STAGE = "    - name: Engaged\n      when:\n        has_email: true\n\n"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture(scope="module")
def grown(rules: RuleSet) -> RuleSet:
    """The default rules after the ladder gained a stage (Engaged, between Prospect and Lead)."""
    text = RULES.read_text("utf-8")
    assert text.count("    - name: Lead\n") == 1
    return parse_rules(text.replace("    - name: Lead\n", NEW_STAGE + "    - name: Lead\n"))


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def connector(box: Sandbox, *, attempts: int = 6) -> HubSpotConnector:
    # The sandbox's clock paces the client too, so scaled time stays consistent.
    policy = CallPolicy(
        "hubspot",
        limits=hubspot_limits("professional", box.clock),
        clock=box.clock,
        base_wait=0.01,
        attempts=attempts,
        seed=0,
    )
    return HubSpotConnector(box.hubspot.token, host=box.hubspot.base_url, policy=policy)


def specs(rules: RuleSet) -> tuple[FieldSpec, ...]:
    return FieldMap.for_rules(rules, CAPABILITIES).specs


def ready(box: Sandbox, rules: RuleSet) -> HubSpotConnector:
    hubspot = connector(box)
    hubspot.setup(specs(rules))
    return hubspot


def stage_writes(count: int, stages: Mapping[str, str] | None = None) -> list[Write]:
    """Score and stage for contacts 1..count; `stages` overrides the stage of some."""
    chosen = dict(stages or {})
    return [
        Write(str(i), {"leadscore_score": str(i), "leadscore_stage": chosen.get(str(i), "Lead")})
        for i in range(1, count + 1)
    ]


def held(box: Sandbox, record: str, name: str) -> str | None:
    return box.hubspot.contacts.value(name, int(record) - 1)


def batch_updates(hubspot: HubSpotConnector) -> int:
    return hubspot.calls().get("contacts.batch_update", 0)


def covers_once(outcome: WriteOutcome, writes: Sequence[Write]) -> bool:
    reported = [*outcome.written, *(f.record_id for f in outcome.failed)]
    return sorted(reported) == sorted(w.record_id for w in writes)


# -- writes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [("17", "73"), ("1", "100"), ("40", "41"), ("50", "51")])
def test_bad_values_fail_only_their_own_records_and_the_rest_lands(
    box: Sandbox, rules: RuleSet, bad: tuple[str, ...]
) -> None:
    hubspot = ready(box, rules)
    writes = stage_writes(100, dict.fromkeys(bad, BAD))
    outcome = hubspot.write(writes)
    calls = batch_updates(hubspot)
    alone = {r: hubspot.write([Write(r, {"leadscore_stage": BAD})]) for r in bad}
    good = [w.record_id for w in writes if w.record_id not in bad]

    assert covers_once(outcome, writes)
    assert outcome.written == good
    assert {f.record_id for f in outcome.failed} == set(bad)
    for failure in outcome.failed:
        assert not failure.retryable
        assert "INVALID_OPTION" in failure.reason and BAD in failure.reason
    # The reason is HubSpot's own message for that record, as if it were written alone.
    for record, single in alone.items():
        assert [f.reason for f in outcome.failed if f.record_id == record] == [
            single.failed[0].reason
        ]
    assert all(held(box, r, "leadscore_stage") == "Lead" for r in good)
    assert all(held(box, r, "leadscore_score") == r for r in good)
    assert all(held(box, r, "leadscore_stage") is None for r in bad)
    assert calls < 1 + 2 * 2 * 7  # about 2 * log2(100) more calls per bad record


def test_a_batch_that_is_fine_is_one_call(box: Sandbox, rules: RuleSet) -> None:
    hubspot = ready(box, rules)
    writes = stage_writes(100)
    outcome = hubspot.write(writes)

    assert batch_updates(hubspot) == 1
    assert outcome.written == [w.record_id for w in writes] and outcome.failed == []
    assert held(box, "100", "leadscore_score") == "100"


def test_a_refused_batch_still_reports_the_records_hubspot_fails_one_by_one(
    box: Sandbox, rules: RuleSet
) -> None:
    hubspot = ready(box, rules)
    writes = [*stage_writes(9, {"4": BAD}), Write("999999", {"leadscore_score": "1"})]
    outcome = hubspot.write(writes)
    failed = {f.record_id: f for f in outcome.failed}

    assert covers_once(outcome, writes[:-1])
    assert set(failed) == {"4"}
    assert failed["4"].reason.startswith(
        "invalid property values: leadscore_stage (INVALID_OPTION)"
    )
    assert not failed["4"].retryable
    # not found, and not archived either: deleted for good (a privacy deletion)
    assert outcome.gone == [Gone("999999", None, for_good=True)]


def test_a_single_refused_record_fails_in_one_call(box: Sandbox, rules: RuleSet) -> None:
    hubspot = ready(box, rules)
    outcome = hubspot.write(stage_writes(1, {"1": BAD}))

    assert batch_updates(hubspot) == 1
    assert outcome.written == [] and [f.record_id for f in outcome.failed] == ["1"]


def test_a_missing_property_fails_the_batch_in_one_call_until_setup(
    box: Sandbox, rules: RuleSet
) -> None:
    hubspot = ready(box, rules)
    writes = [Write(str(i), {"leadscore_nope": "1"}) for i in range(1, 9)]
    outcome = hubspot.write(writes)

    assert covers_once(outcome, writes) and outcome.written == []
    assert all("PROPERTY_DOESNT_EXIST" in f.reason for f in outcome.failed)
    assert all(f.retryable for f in outcome.failed)  # `leadscore setup` is the fix
    assert batch_updates(hubspot) == 1  # halving could not help: every record names it


def test_retryable_failures_that_outlast_the_retries_propagate(rules: RuleSet) -> None:
    faults = {
        "hubspot": FaultPlan(server_error=1.0, operations=frozenset({"contacts.batch_update"}))
    }
    with Sandbox(people=PEOPLE, seed=SEED, faults=faults) as box:
        hubspot = connector(box, attempts=2)
        hubspot.setup(specs(rules))
        with pytest.raises(ServerError):
            hubspot.write(stage_writes(10, {"3": BAD}))
        assert batch_updates(hubspot) == 2


# -- set-up -----------------------------------------------------------------------------------


def test_setup_adds_the_stage_the_ladder_gained_and_it_can_then_be_written(
    box: Sandbox, rules: RuleSet, grown: RuleSet
) -> None:
    hubspot = ready(box, rules)
    before = hubspot.write([Write("5", {"leadscore_stage": "Engaged"})])
    dry = hubspot.setup(specs(grown), dry_run=True)
    unchanged = [o["value"] for o in box.hubspot.contacts.defs["leadscore_stage"]["options"]]
    report = hubspot.setup(specs(grown))
    after = hubspot.write([Write("5", {"leadscore_stage": "Engaged"})])
    options = box.hubspot.contacts.defs["leadscore_stage"]["options"]
    ladder = [stage.name for stage in rules.stages.ladder] if rules.stages else []

    assert [f.record_id for f in before.failed] == ["5"]
    assert dry.updated == ["leadscore_stage"] and unchanged == ladder
    assert report.updated == ["leadscore_stage"] and report.created == []
    assert "leadscore_stage" not in report.existing and "leadscore_score" in report.existing
    assert hubspot.calls()["properties.update"] == 1
    # The new stage takes its place in the dropdown: between Prospect and Lead, as on the ladder.
    assert [o["value"] for o in options] == [ladder[0], "Engaged", *ladder[1:]]
    assert [o["displayOrder"] for o in options] == list(range(len(ladder) + 1))
    assert after.written == ["5"] and held(box, "5", "leadscore_stage") == "Engaged"


def test_setup_is_idempotent(box: Sandbox, rules: RuleSet, grown: RuleSet) -> None:
    hubspot = connector(box)
    first = hubspot.setup(specs(grown))
    calls = hubspot.calls()
    second = hubspot.setup(specs(grown))
    again = hubspot.calls()
    names = [s.name for s in specs(grown)]

    assert first.created == ["group leadscore", *names] and first.updated == []
    assert second.created == [] and second.updated == []
    assert second.existing == ["group leadscore", *names]
    assert Counter(again) - Counter(calls) == {"properties.list": 1, "properties.groups.list": 1}


def test_setup_refuses_an_existing_property_of_another_type_and_creates_nothing(
    box: Sandbox, rules: RuleSet
) -> None:
    api = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url, retry=Retry(total=0))
    text = PropertyCreate(
        name="leadscore_score",
        label="Score (notes)",
        type="string",
        field_type="text",
        group_name="contactinformation",
    )
    api.crm.properties.core_api.create("contacts", text)
    hubspot = connector(box)
    for dry_run in (True, False):
        with pytest.raises(RejectedError) as refused:
            hubspot.setup(specs(rules), dry_run=dry_run)
        assert refused.value.operation == "properties.update"
        assert "leadscore_score" in str(refused.value)
        assert "type string" in str(refused.value) and "type number" in str(refused.value)
    ours = {name for name in box.hubspot.contacts.defs if name.startswith("leadscore_")}

    assert ours == {"leadscore_score"}
    assert "leadscore" not in box.hubspot.groups
    assert set(hubspot.calls()) == {"properties.list"}


def test_a_refusal_names_the_property_first_however_long_hubspots_message(
    box: Sandbox, rules: RuleSet
) -> None:
    hubspot = ready(box, rules)
    # a value HubSpot quotes back in its message, long enough to push the name past any cut
    long = BAD + "x" * 5000
    outcome = hubspot.write([Write("1", {"leadscore_score": "1", "leadscore_stage": long})])

    [failure] = outcome.failed
    assert failure.reason.startswith("invalid property values: leadscore_stage (INVALID_OPTION): ")
    assert len(failure.reason) < 300


def test_setup_keeps_a_portal_users_own_option_and_labels_when_inserting_a_stage(
    box: Sandbox, rules: RuleSet, grown: RuleSet
) -> None:
    hubspot = ready(box, rules)
    ladder = [stage.name for stage in rules.stages.ladder] if rules.stages else []
    api = HubSpot(access_token=box.hubspot.token, host=box.hubspot.base_url, retry=Retry(total=0))
    # A HubSpot user relabelled the first stage and added an option of their own at the end.
    own = [
        OptionInput(label="Prospect (new)" if v == ladder[0] else v, value=v, display_order=i)
        for i, v in enumerate(ladder)
    ]
    own.append(OptionInput(label="Parked", value="Parked", display_order=len(ladder)))
    api.crm.properties.core_api.update("contacts", "leadscore_stage", PropertyUpdate(options=own))
    hubspot.setup(specs(grown))
    options = box.hubspot.contacts.defs["leadscore_stage"]["options"]

    assert [o["value"] for o in options] == [ladder[0], "Engaged", *ladder[1:], "Parked"]
    assert options[0]["label"] == "Prospect (new)"
    assert [o["displayOrder"] for o in options] == list(range(len(ladder) + 2))


def test_setup_brings_a_description_up_to_date_with_the_rules(box: Sandbox, rules: RuleSet) -> None:
    hubspot = ready(box, rules)
    text = RULES.read_text().replace("{grade: A, min: 75}", "{grade: A, min: 80}")
    changed = parse_rules(text, "rules.yaml")
    dry = hubspot.setup(specs(changed), dry_run=True)
    report = hubspot.setup(specs(changed))
    again = hubspot.setup(specs(changed))
    described = box.hubspot.contacts.defs["leadscore_grade"]["description"]

    assert dry.described == report.described == ["leadscore_grade"]
    assert report.updated == [] and report.missing == []
    assert "A 80+" in described and "A 75+" not in described
    assert again.described == []


def test_setup_whose_create_replies_are_lost_ends_with_every_property_there(
    rules: RuleSet,
) -> None:
    from sandbox import FaultPlan

    # A third of the replies are lost after the create landed: the retry hears 409.
    with Sandbox(people=20, seed=1, scale=50) as box:
        box.hubspot.faults = FaultPlan(lost=0.3, seed=1)
        hubspot = connector(box)
        report = hubspot.setup(specs(rules))
        lost = [c for c in box.hubspot.log if c.status == 0 and "create" in c.operation]
        defs = box.hubspot.contacts.defs

    assert lost  # some creates landed without a reply
    assert all(spec.name in defs for spec in specs(rules))
    assert "leadscore_score" in report.created


def test_a_record_failure_that_echoes_the_token_is_scrubbed_and_bounded(
    box: Sandbox, rules: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sandbox.hubspot.contact_routes import ContactRoutes
    from sandbox.hubspot.errors import record_error

    echoed = f"could not write; request headers: Authorization: Bearer {box.hubspot.token} "
    monkeypatch.setattr(
        ContactRoutes,
        "_record_failure",
        lambda _self, _row, key, _values: record_error("INTERNAL_ERROR", echoed * 50, [key]),
    )
    outcome = ready(box, rules).write(stage_writes(3))

    assert len(outcome.failed) == 3
    for failure in outcome.failed:
        assert box.hubspot.token not in failure.reason
        assert "[redacted]" in failure.reason and len(failure.reason) <= 300
