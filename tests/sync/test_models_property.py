"""Property: extra models leave the live scores alone, and score each of their people as a
batch of everyone would (`sync.models`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from sandbox import Sandbox
from scoring import Conditions, load_rules
from sync import Leadscore, SyncOptions
from sync.demo import sandbox_settings
from sync.incremental import score_people
from sync.models import Model, applies, chosen
from sync.people import People
from sync.pipeline import Sync, Written
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
