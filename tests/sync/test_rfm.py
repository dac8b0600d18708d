"""RFM in a sync: quintile bounds over the store's population, kept for rescores of one
person, written back, and everyone rescored when a purchase moves them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from hubspot import HubSpot
from urllib3.util.retry import Retry

from sandbox import Sandbox
from sandbox.hubspot.pipelines import WON_STAGE
from scoring import (
    Activity,
    ActivityType,
    Contact,
    RfmBounds,
    RuleSet,
    load_rules,
    population_bounds,
)
from scoring.exclude_rules import Exclusion
from scoring.exclusion import included
from scoring.measuring import numeric_values
from scoring.rfm_rules import Rfm, Segment
from sync import StateStore, SyncOptions
from sync.fields import RFM, RFM_SEGMENT
from sync.rfm import kept_bounds, moved_purchasers, purchasers
from sync.rfm import population as store_population
from sync.schema import activities
from tests.helpers import NOW
from tests.sandbox.test_hubspot import TOKEN
from tests.sync.test_sync_hubspot import RULES, fields, make_sync

PEOPLE, SEED = 120, 7


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    rfm = Rfm(
        segments=[Segment(name="champions", r=(4, 5), f=(4, 5)), Segment(name="others", r=(1, 5))],
        write=True,
    )
    return load_rules(RULES).model_copy(update={"rfm": rfm})


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def test_bounds_are_the_store_population_and_a_rescore_of_one_reads_them(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        kept = kept_bounds(connection, rules)
    assert kept is not None and kept.people > 0
    # the store's query measures as the engine does on the whole population's frames
    people = store.load_people()
    frame, acts = people.frames(rules.contact_fields(), rules.activity_fields())
    assert population_bounds(rules, acts, len(frame), at.timestamp()) == kept

    everyone, _ = job.score(as_of=at)
    assert everyone.rfm is not None
    bought = [row for row in range(len(everyone)) if everyone.rfm.code(row) is not None]
    assert len(bought) == kept.people
    names = fields(rules).names
    table = box.hubspot.contacts
    checked = 0
    for row in bought[:10]:  # each alone, as a trigger scores it, with the kept bounds
        person = int(everyone.contact_ids[row])
        alone, people_alone = job.score([person], as_of=at)
        assert alone.rfm is not None
        assert alone.rfm.code(0) == everyone.rfm.code(row)
        for system, record in people_alone.records[str(person)]:
            if system == "hubspot":  # and that is what the sync wrote back
                index = int(record) - 1
                assert table.value(names[RFM], index) == everyone.rfm.code(row)
                assert table.value(names[RFM_SEGMENT], index) == (everyone.rfm.segment(row) or "")
                checked += 1
    assert checked > 0


def test_a_purchase_that_moves_the_bounds_rescores_only_the_purchasers_it_moves(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    quiet = make_sync(box, rules, store, at=at + timedelta(minutes=5)).run()
    assert quiet.rescored < quiet.persons  # bounds unchanged: only who is due

    with store.engine.connect() as connection:
        before = store_population(connection, rules, at.timestamp())
    everyone, _ = make_sync(box, rules, store, at=at).score(as_of=at)
    assert everyone.rfm is not None
    buyers = {int(everyone.contact_ids[r]) for r in range(len(everyone)) if everyone.rfm.code(r)}
    person = store.load_people().contacts[0]
    records = store.records_by_person()[int(person.id)]
    system, record = records[0]
    big = [
        Activity(record, ActivityType.PURCHASE, at - timedelta(days=d), id=f"big-{d}",
                 attributes={"amount": 1e7})
        for d in range(1, 30)
    ]  # fmt: skip
    store.save_activities(system, big)
    later = at + timedelta(minutes=10)
    with store.engine.connect() as connection:
        after = store_population(connection, rules, later.timestamp())
    assert after != before
    with store.engine.connect() as connection:
        found = purchasers(connection, rules, later.timestamp())
        assert found is not None and after is not None
        moved = set(moved_purchasers(connection, rules, found, after, later.timestamp()))
    assert moved and moved <= buyers | {int(person.id)}  # only purchasers' digits move
    run = make_sync(box, rules, store, at=later).run()
    assert len(moved) <= run.rescored < run.persons, (run.rescored, len(moved))
    # the run rescored those the bounds moved, and the digits it wrote are the new bounds'
    rescored, _ = make_sync(box, rules, store, at=later).score(as_of=later)
    with store.engine.connect() as connection:
        assert kept_bounds(connection, rules) == after
    assert rescored.rfm is not None and rescored.rfm.bounds == after
    with store.engine.connect() as connection:
        assert moved_purchasers(connection, rules, found, after, later.timestamp()) == []


def test_moved_digits_are_those_of_purchasers_whose_digit_differs() -> None:
    from scoring import measure, moved_digits

    rfm = Rfm()
    found = measure(
        np.array([0, 1, 2], dtype=np.int32), np.array([1.0, 2.0, 3.0]), np.ones(3), 4
    )  # three purchasers of one purchase each, and a contact without one
    old = RfmBounds((1.0, 1.0, 2.0, 3.0), (1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0), 3)
    new = replace(old, recency=(1.0, 1.0, 1.5, 3.0))  # the second's R goes from 3 to 4
    assert moved_digits(rfm, found, old, new, 10.0).tolist() == [False, True, False, False]
    assert moved_digits(rfm, found, old, replace(old, people=9), 10.0).tolist() == [False] * 4
    assert moved_digits(rfm, found, None, new, 10.0).tolist() == [True, True, True, False]


def test_fields_are_written_only_where_the_rules_say_and_empty_without_a_purchase() -> None:
    from connectors.hubspot import CAPABILITIES
    from scoring import score
    from scoring.rfm import RfmBounds
    from sync.fields import RFM_SCORE, FieldMap
    from tests.scoring.test_rfm import QUINTILES, _frames

    assert RFM not in FieldMap.for_rules(QUINTILES, CAPABILITIES).names
    written = QUINTILES.model_copy(
        update={"rfm": QUINTILES.rfm.model_copy(update={"write": True})}  # type: ignore[union-attr]
    )
    field_map = FieldMap.for_rules(written, CAPABILITIES)
    frame, acts = _frames([[(1.0, 10.0)] * 3, []])
    bounds = RfmBounds((0.0,) * 4, (1.0, 1.0, 2.0, 5.0), (5.0, 10.0, 20.0, 40.0), people=7)
    batch = score(written, frame, acts, NOW, rfm=bounds)
    names = field_map.names
    bought, never = (field_map.values(batch, row, NOW) for row in (0, 1))
    assert bought[names[RFM]] == "544"  # R above every bound, F 3 and M 30 above three
    assert bought[names[RFM_SCORE]] == "13"
    assert bought[names[RFM_SEGMENT]] == "champions"
    assert never[names[RFM]] == never[names[RFM_SCORE]] == never[names[RFM_SEGMENT]] == ""


def test_score_command_ranks_by_the_files_own_quintiles(
    tmp_path: Path,
) -> None:
    import csv

    from typer.testing import CliRunner

    from sync.cli import app

    example = Path(__file__).parents[2] / "examples"
    out = tmp_path / "scored.csv"
    args = ["score", "-r", str(example / "rfm.yaml"), "-c", str(example / "data" / "contacts.csv")]
    args += [
        "-a",
        str(example / "data" / "activities.csv"),
        "--as-of",
        "2026-11-01",
        "-o",
        str(out),
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    coded = [row for row in rows if row["rfm"]]
    assert coded and all(int(row["rfm_score"]) == sum(map(int, row["rfm"])) for row in coded)
    assert all(row["stage"] in {"Customer", "Key account"} for row in coded)
    assert all(row["rfm_score"] == "0" and not row["rfm_segment"] for row in rows if not row["rfm"])
    # digits by quintiles over the file: the most recent purchaser is R5
    assert max(coded, key=lambda row: row["rfm"][0])["rfm"][0] == "5"


def test_the_store_bounds_leave_out_the_people_the_rules_exclude(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    people = store.load_people()
    frame, acts = people.frames(rules.contact_fields(), rules.activity_fields())
    everyone = population_bounds(rules, acts, len(frame), at.timestamp())
    assert everyone is not None
    # the biggest spenders object to profiling: the monetary bounds must fall without them
    measured = everyone.people
    amounts: dict[str, float] = {}
    column = acts.column("amount")
    values = numeric_values(column, len(acts))
    for row, amount in zip(acts.contact_rows.tolist(), values.tolist(), strict=True):
        email = people.contacts[row].email
        if email and amount == amount:  # NaN: no amount
            amounts[email] = amounts.get(email, 0.0) + amount
    top = sorted(amounts, key=lambda e: -amounts[e])[: max(1, measured // 5)]
    excluding = rules.model_copy(update={"exclude": Exclusion(emails=top)})
    later = at + timedelta(minutes=5)
    make_sync(box, excluding, store, at=later).run(SyncOptions(full=True))
    kept = included(excluding, frame, acts)
    expected = population_bounds(excluding, kept.activities, len(kept.contacts), later.timestamp())
    with store.engine.connect() as connection:
        assert kept_bounds(connection, excluding) == expected
        assert store_population(connection, excluding, later.timestamp()) == expected
    assert expected is not None and expected.people < measured


def test_the_store_counts_one_sale_of_several_systems_once_as_the_engine_does(
    tmp_path: Path,
) -> None:
    """A won deal, a won opportunity and an order of one sale, stored from three systems,
    are one purchase for the store's bounds and for the engine over the store's frames;
    two equal orders of one system stay two."""
    rfm = Rfm(currency="EUR", rates={"USD": 0.5})
    ruleset = load_rules(RULES).model_copy(update={"rfm": rfm})
    store = StateStore(f"sqlite:///{tmp_path}/s.db")
    moment = NOW.timestamp()
    when = NOW - timedelta(days=30)

    def bought(
        system: str, record: str, ident: str, amount: float, days: float, **more: str
    ) -> Activity:
        attributes = {"amount": amount, **more}
        return Activity(
            record, ActivityType.PURCHASE, when + timedelta(days=days), id=ident,
            attributes=attributes, source=system,
        )  # fmt: skip

    held = {
        "hubspot": ([Contact("1", email="ann@acme.io")], [bought("hubspot", "1", "d1", 200.0, 1)]),
        "salesforce": (
            [Contact("003A", email="ann@acme.io")],
            [bought("salesforce", "003A", "o1", 200.0, 0, currency="EUR")],
        ),
        "mailchimp": (
            [Contact("m1", email="ann@acme.io"), Contact("m2", email="bo@acme.io")],
            [
                bought("mailchimp", "m1", "r1", 400.0, 2, currency="USD"),  # the same sale
                bought("mailchimp", "m2", "r2", 30.0, 0, currency="GBP"),  # no rate
                bought("mailchimp", "m2", "r3", 50.0, 5),
                bought("mailchimp", "m2", "r4", 50.0, 5),  # two equal orders: two
            ],
        ),
    }
    for system, (contacts, acts) in held.items():
        store.save_pages(system, [(contacts, acts)], when)
    with store.engine.connect() as connection:
        found = purchasers(connection, ruleset, moment)
    assert found is not None
    ids, measures, _ = found
    people = store.load_people()
    by_email = {c.email: int(c.id) for c in people.contacts}
    row = {int(p): i for i, p in enumerate(ids.tolist())}
    ann, bo = row[by_email["ann@acme.io"]], row[by_email["bo@acme.io"]]
    assert measures.count[ann] == 1 and measures.amount[ann] == 200.0
    assert measures.last[ann] == when.timestamp()  # the earliest of the three
    assert measures.count[bo] == 3 and measures.amount[bo] == 100.0
    frame, acts = people.frames(ruleset.contact_fields(), ruleset.activity_fields())
    with store.engine.connect() as connection:
        assert store_population(connection, ruleset, moment) == population_bounds(
            ruleset, acts, len(frame), moment
        )
    store.close()


def test_a_deal_deleted_in_hubspot_takes_its_purchase_out_of_the_store(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """A won deal archived through HubSpot's API: the next incremental sync lists it among
    the archived deals and withdraws its purchase from the store (`sync.withdrawals`), so
    RFM no longer counts it."""
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    deals = box.hubspot.objects.by_type["deals"]
    won = next(d for d in deals if d.stage == WON_STAGE[d.pipeline])
    prefix = f"deal:{won.id}:"

    def held() -> list[str]:
        with store.engine.connect() as connection:
            query = sa.select(activities.c.activity_id).where(
                activities.c.system == "hubspot", activities.c.activity_id.like(prefix + "%")
            )
            return list(connection.execute(query).scalars())

    assert any(":won:" in i for i in held())
    api: Any = HubSpot(access_token=TOKEN, host=box.hubspot.base_url, retry=Retry(total=0))
    api.crm.deals.basic_api.archive(str(won.id))

    make_sync(box, rules, store, at=at + timedelta(minutes=5)).run()
    assert held() == []


def test_a_run_says_once_which_purchases_no_rate_turns_into_the_currency(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """The sandbox's deals are in USD, its portal's currency: measured in EUR without a
    rate, they are left out of monetary value, and the run's summary says so once."""
    assert rules.rfm is not None
    euros = rules.model_copy(update={"rfm": rules.rfm.model_copy(update={"currency": "EUR"})})
    at = box.now() + timedelta(hours=1)
    summary = make_sync(box, euros, store, at=at).run(SyncOptions(full=True))
    said = [w for w in summary.warnings if w.startswith("rfm:")]
    assert len(said) == 1 and "in USD" in said[0] and "rfm.rates" in said[0], said
    everyone, _ = make_sync(box, euros, store, at=at).score(as_of=at)
    assert everyone.rfm is not None and everyone.rfm.measures.count.sum() > 0
    assert everyone.rfm.measures.amount.sum() == 0.0  # no rate: no monetary value


def test_kept_bounds_are_void_once_the_sales_or_currency_they_counted_change(
    tmp_path: Path,
) -> None:
    from sync.rfm import save_bounds

    store = StateStore(f"sqlite:///{tmp_path}/s.db")
    kept = RfmBounds((1.0, 2.0, 3.0, 4.0), (1.0, 1.0, 2.0, 3.0), (5.0, 6.0, 7.0, 8.0), people=9)
    base = load_rules(RULES).model_copy(update={"rfm": Rfm()})
    changes = [
        {"same_sale_days": None},
        {"currency": "EUR"},
        {"currency": "EUR", "rates": {"USD": 0.9}},
    ]
    with store.engine.begin() as connection:
        save_bounds(connection, base, kept, NOW.timestamp())
    with store.engine.connect() as connection:
        assert kept_bounds(connection, base) == kept
        for change in changes:
            other = base.model_copy(update={"rfm": Rfm(**change)})
            assert kept_bounds(connection, other) is None, change
    store.close()


def test_every_run_says_which_purchases_no_rate_turns_into_the_currency(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """The note counts the store's purchases, as the bounds do: a quiet run that rescores
    nobody says it as the full run did, with the same count."""
    assert rules.rfm is not None
    euros = rules.model_copy(update={"rfm": rules.rfm.model_copy(update={"currency": "EUR"})})
    at = box.now() + timedelta(hours=1)
    full = make_sync(box, euros, store, at=at).run(SyncOptions(full=True))
    later = at + timedelta(minutes=5)
    summary = make_sync(box, euros, store, at=later).run(SyncOptions())
    said = [w for w in summary.warnings if w.startswith("rfm:")]
    assert len(said) == 1 and "in USD" in said[0], said
    assert said == [w for w in full.warnings if w.startswith("rfm:")]
    assert summary.rescored < full.rescored
