"""Property: extra models leave the live scores alone, and score each of their people as a
batch of everyone would (`sync.models`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from connectors.hubspot import CAPABILITIES as HUBSPOT
from sandbox import Sandbox
from scoring import Conditions, load_rules
from sync import Leadscore, SyncOptions
from sync.demo import sandbox_settings
from sync.incremental import score_due, score_people
from sync.models import Model, applies, chosen, read_models
from sync.people import People
from sync.pipeline import Sync, Written
from sync.summary import SyncSummary
from tests.sync.test_shadow import RULES

COUNTRIES = ("US", "FR", "DE", "PL", "GB", "BE", "IN", "SE")


@pytest.fixture(scope="module")
def scored(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Sync, People, Written, datetime]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('prop') / 's.db'}"
    with Sandbox(people=60, seed=8) as box:
        settings_ = sandbox_settings(box, url)
        with Leadscore.open(settings_, rules=load_rules(RULES), clock=box.now, pace=box.clock,
                            http=box.sessions()) as app:  # fmt: skip
            app.setup()
            app.sync(SyncOptions(full=True))
            job = app.job
            yield job, job.store.load_people(), job.written(), box.now()


def totals(job: Sync, people: People, written: Written, at: datetime) -> dict[str, float]:
    batch, _ = score_people(job, people, at, written)
    return dict(zip((str(i) for i in batch.contact_ids), batch.total.tolist(), strict=True))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keep=st.lists(st.booleans(), min_size=60, max_size=60))
def test_the_people_a_model_keeps_score_as_in_a_batch_of_everyone(
    scored: tuple[Sync, People, Written, datetime], keep: list[bool]
) -> None:
    job, people, written, at = scored
    everyone = totals(job, people, written, at)
    mask = (keep * (len(people.contacts) // len(keep) + 1))[: len(people.contacts)]
    some = totals(job, chosen(people, mask), written, at)
    kept = {c.id for c, k in zip(people.contacts, mask, strict=True) if k}
    assert set(some) == kept & set(everyone)
    assert all(np.isclose(some[p], everyone[p]) for p in some)
    assert totals(job, people, written, at) == everyone  # the live scores: as they were


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(picked=st.sets(st.sampled_from(COUNTRIES)), missing=st.booleans())
def test_a_condition_holds_for_the_people_whose_country_it_names(
    scored: tuple[Sync, People, Written, datetime], picked: set[str], missing: bool
) -> None:
    job, people, _, _ = scored
    ops = {"one_of": sorted(picked) or ["XX"], "or_missing": missing}
    when = TypeAdapter(Conditions).validate_python({"country": ops})
    model = Model("m", Path("m.yaml"), job.rules, (when,), "m_", "MMM", {})
    found = applies(model, people)
    expected = []
    for contact in people.contacts:
        own = [
            people.record_attributes.get(r, {}).get("country") for r in people.records[contact.id]
        ]
        values = {str(v).upper() for v in [contact.attributes.get("country"), *own] if v}
        held = bool(values & picked) or (missing and not contact.attributes.get("country"))
        expected.append(held)
    assert found == expected


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    splits=st.lists(st.sets(st.sampled_from(COUNTRIES), min_size=1), min_size=1, max_size=3),
    second=st.booleans(),
)
def test_the_live_scores_are_those_of_a_run_without_models(
    scored: tuple[Sync, People, Written, datetime], splits: list[set[str]], second: bool
) -> None:
    job, _, _, at = scored
    rules = (
        RULES if not second else Path(__file__).parents[2] / "examples" / "three_dimensions.yaml"
    )
    text = json.dumps(
        [{"name": f"m{i}", "rules": str(rules), "when": {"country": sorted(split)},
          "field_prefix": f"m{i}_"} for i, split in enumerate(splits)]
    )  # fmt: skip
    models = read_models(text, job.rules, job.fields, [HUBSPOT], ["hubspot"],
                         live_prefix="leadscore_", shadow_prefix="leadscore_shadow_")  # fmt: skip
    plain = Sync(job.rules, job.store, job.connectors, job.fields, clock=job.clock)
    with_models = Sync(job.rules, job.store, job.connectors, job.fields, clock=job.clock,
                       models=models)  # fmt: skip
    options = SyncOptions(full=True, dry_run=True)  # the store is left as it was
    before = score_due(plain, options, SyncSummary("full"), at)
    after = score_due(with_models, options, SyncSummary("full"), at)
    assert after.batch.contact_ids.tolist() == before.batch.contact_ids.tolist()
    assert np.array_equal(after.batch.total, before.batch.total)
    assert [after.batch.stage(i) for i in range(len(after.batch))] == [
        before.batch.stage(i) for i in range(len(before.batch))
    ]
    assert after.batch.excluded_ids == before.batch.excluded_ids
    countries = {c.id: str(c.attributes.get("country") or "") for c in after.people.contacts}
    for model, split in zip(models, splits, strict=True):
        ids = {str(i) for i in after.models[model.name].contact_ids.tolist()}
        # people of one record each: the merged country is the record's
        single = {p for p, rs in after.people.records.items() if len(rs) == 1}
        assert {p for p in ids & single} == {p for p in single if countries[p] in split}
