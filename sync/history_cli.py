"""`leadscore explain` (now, or replayed on a past date) and `leadscore history`: one person
as the state store knows them. Their work is imported when they run, so that `leadscore
--help` loads nothing heavy; `sync.cli` registers each with one line.

Exit codes: 2 for a bad `--as-of` or rule file, 1 for a person the store does not know
(or, replaying under the rules then in force, no score recorded by that date)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sync.console import RulesOption, TenantOption

if TYPE_CHECKING:
    from datetime import datetime

    from scoring import ScoreBatch
    from sync.store import StateStore


def explain_command(
    who: Annotated[str, typer.Argument(help="The person's email, or their id in a system.")],
    rules: RulesOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Replay the person as of this ISO-8601 date or moment, under the rules then "
            "in force (kept in the store), or under --rules FILE."
        ),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Show why one person has their score.

    Show one person's score, dimensions, stage and every rule that fired (from the store);
    without a rule file, what was last written to each of their records."""
    from sync.cli import bundled_rules, opened, store_rules
    from sync.console import choose, err, fail, out
    from sync.models import explained_lines
    from sync.report import activity_sources, print_explanation, print_written

    choose(tenant)
    if as_of is not None:
        _replay(who, as_of, rules)
        return
    ruleset = store_rules(rules)
    with opened(ruleset or bundled_rules(), need_systems=False) as application:
        if ruleset is None:
            from sync.console import settings

            person = application.store.person_of(who)
            if person is None:
                fail(f"{who!r} is not in the state store; run `leadscore sync` first", code=1)
            err.print(
                f"note: no rule file at {settings().rules}, so {who} is not rescored; "
                "showing what was last written (pass --rules FILE to rescore)",
                highlight=False,
            )
            print_written(out, application.store, person)
            return
        found = application.explain(who)
        velocity = velocity_now(application.store, found.batch, found.person, found.at)
    print_explanation(out, found.batch, 0)
    for line in velocity:
        out.print(line, highlight=False)
    records = ", ".join(f"{system} {record}" for system, record in found.records)
    activities = len(found.people.columns)
    out.print(f"records: {records or 'none'}; {activities} activities", highlight=False)
    for line in activity_sources(found.people.columns):
        out.print(f"  {line}", highlight=False)
    for line in explained_lines(found.models):
        out.print(line, highlight=False)


def _replay(who: str, as_of: str, rules: Path | None) -> None:
    """`explain --as-of`: the person replayed from the store on that date."""
    from sync.cli import bundled_rules, opened
    from sync.console import out, rules_from
    from sync.history import SHORT
    from sync.replay import replay
    from sync.report import print_explanation
    from sync.score_command import as_of_moment

    moment = as_of_moment(as_of)  # a bad date: exit 2, before anything is opened
    given = None
    if rules is not None:
        given = (rules_from(rules), rules.read_text("utf-8"), str(rules))
    with opened(bundled_rules(), need_systems=False) as application:
        found = replay(application.store, who, moment, given)
        velocity = velocity_now(application.store, found.batch, found.person, moment)
    stamp = moment.isoformat().replace("+00:00", "Z")
    print_explanation(out, found.batch, 0)
    for line in velocity:
        out.print(line, highlight=False)
    out.print(
        f"as of {stamp}: rules {found.source}, version {found.version[:SHORT]}",
        highlight=False,
    )
    if found.handover is not None:
        out.print(f"hand-over then: {found.handover}", highlight=False)
    recorded = found.recorded
    if recorded is None:
        out.print("recorded by then: no score", highlight=False)
    else:
        out.print(
            f"recorded by then: score {recorded.score} at {recorded.at:%Y-%m-%d %H:%M} UTC "
            f"(rules {recorded.rules[:SHORT]})",
            highlight=False,
        )
    out.print(
        "replayed from the activities the store holds up to then and the attributes as last pulled",
        highlight=False,
    )


def velocity_now(
    store: StateStore, batch: ScoreBatch, person: int, at: datetime | None
) -> list[str]:
    """The velocity lines of a person scored as of `at` (`sync.history_report.velocity_lines`),
    from the scores in force then that the engine read (`sync.velocity.past_scores`)."""
    from sync.history_report import velocity_lines
    from sync.velocity import past_scores

    rules = batch.rules
    if at is None or not rules.velocity_windows() or not len(batch):
        return []
    with store.engine.connect() as connection:
        past = past_scores(connection, rules, [person], at.timestamp()) or {}
    then = {days: float(scores[0]) for days, scores in past.items()}
    return velocity_lines(rules, float(batch.total[0]), then)


def history_command(
    who: Annotated[str, typer.Argument(help="The person's email, or their id in a system.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON.")] = False,
    rules: RulesOption = None,
    tenant: TenantOption = None,
) -> None:
    """Show one person's score over time.

    Show one person's score over time, from the state store: each recorded score with its
    time, dimensions, stage, grade, rule version and what moved, and its velocity when the
    rule file reads velocity (exit 1: not in the store)."""
    import json

    from sync.cli import bundled_rules, opened, store_rules
    from sync.console import choose, fail, out
    from sync.history import history_of
    from sync.history_report import history_json, history_lines

    choose(tenant)
    ruleset = store_rules(rules)  # velocity as the rule file reads it (none without a file)
    with opened(ruleset or bundled_rules(), need_systems=False) as application:
        person = application.store.person_of(who)
        if person is None:
            fail(f"{who!r} is not in the state store; run `leadscore sync` first", code=1)
        with application.store.engine.connect() as connection:
            entries = history_of(connection, person)
    if as_json:
        typer.echo(json.dumps(history_json(who, person, entries, ruleset), indent=2))
        return
    for line in history_lines(who, entries, rules=ruleset):
        out.print(line, highlight=False, markup=False, soft_wrap=True)
