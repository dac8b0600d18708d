"""`leadscore forget` and `leadscore export`: a person erased from the state store (and their
leadscore fields emptied in the CRMs), or everything the store holds of them as JSON. Their
work is imported when they run; `sync.cli` registers each with one line.

Exit codes: 2 for a bad address (an argument, or a line of `--from-file`, named by its
number; nothing is deleted then) and for `export` of an address the store does not know; 1
when a CRM did not take a clearing (those people stay in the store, to be forgotten again);
2 when `--clear-crm` finds records in a system that is not configured, unless
`--skip-unconfigured` (nothing is cleared or deleted then).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.console import RulesOption
from sync.words import counted


def addresses_given(given: list[str], from_file: Path | None) -> tuple[list[str], list[str]]:
    """The normalized addresses of the arguments and the file (one a line, read as an
    `exclude.emails_file` is: `scoring.exclude_rules.address_lines`), and a line per bad
    one, naming where it was."""
    from scoring import address_lines, address_problem  # pydantic: `--help` does without

    found: list[str] = []
    problems: list[str] = []
    for n, text in enumerate(given, start=1):
        address = text.strip().lower()
        if address_problem(address) is None:
            found.append(address)
        else:
            problems.append(f"argument {n}: {text!r} is not an email address")
    if from_file is not None:
        try:
            raw = from_file.read_bytes()
        except OSError as error:
            return found, [*problems, f"{from_file}: cannot read it ({error.strerror})"]
        entries, bad = address_lines(raw)
        problems += [f"{from_file}:{n}: {reason}" for n, reason in bad]
        for n, entry in entries:
            address = entry.lower()
            if address_problem(address) is None:
                found.append(address)
            else:
                shown = entry if len(entry) <= 60 else entry[:57] + "..."
                problems.append(f"{from_file}:{n}: {shown!r} is not an email address")
    return list(dict.fromkeys(found)), problems


def forget_command(
    emails: Annotated[
        list[str] | None, typer.Argument(metavar="EMAIL...", help="Addresses of the people.")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="A file of addresses, one a line (# comments)."),
    ] = None,
    clear_crm: Annotated[
        bool,
        typer.Option(
            "--clear-crm", help="First empty their leadscore fields in each configured system."
        ),
    ] = False,
    skip_unconfigured: Annotated[
        bool,
        typer.Option(
            "--skip-unconfigured",
            help="With --clear-crm: erase people whose records a system that is not "
            "configured holds, leaving their fields there.",
        ),
    ] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for a sync under way to finish.")
    ] = 60.0,
    rules: RulesOption = None,
) -> None:
    """Erase people from the store (and the CRMs' fields).

    Erase people everywhere in the state store (records, activities, written values,
    history, failures); with --clear-crm, empty their leadscore fields in the CRMs first."""
    from sync.cli import bundled_rules, opened, store_rules
    from sync.console import err, fail, out, rules_from, settings
    from sync.errors import EXIT_FAILED
    from sync.forgetting import forget_people

    addresses, problems = addresses_given(emails or [], from_file)
    if problems:
        fail(problems)  # exit 2: nothing deleted
    if not addresses:
        fail("give at least one address, or --from-file FILE")
    # Clearing writes the fields of the live rules; erasing alone needs no rule file.
    ruleset = rules_from(rules or settings().rules) if clear_crm else None
    ruleset = ruleset or store_rules(rules) or bundled_rules()
    with opened(ruleset, need_systems=clear_crm) as application:
        connectors = application.connectors if clear_crm else []
        fields = {c.system: application.fields(c.system) for c in connectors}
        done = forget_people(
            application.store, addresses, connectors=connectors, fields=fields,
            clear_crm=clear_crm, skip_unconfigured=skip_unconfigured, wait=max(0.0, wait),
        )  # fmt: skip
    for system, count in sorted(done.cleared.items()):
        out.print(
            f"{system}: emptied the leadscore fields of {counted(count, 'record')}",
            highlight=False,
        )
    for erased in done.erased:
        if not erased.found:
            out.print(f"{erased.address}: not in the state store", highlight=False, markup=False)
            continue
        systems = sorted({s for s, _ in erased.records})
        out.print(
            f"{erased.address}: forgotten ({counted(len(erased.records), 'record')} in "
            f"{', '.join(systems) or 'no system'}; "
            f"{counted(sum(erased.rows.values()), 'row')} deleted)",
            highlight=False,
            markup=False,
        )
    for miss in done.not_cleared:
        err.print(
            f"{miss.address}: kept, {miss.system} did not take the clearing of "
            f"{miss.record_id}: {miss.reason}",
            highlight=False,
            markup=False,
        )
    if done.not_cleared:
        raise typer.Exit(EXIT_FAILED)


def export_command(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The person's email address.")],
    out_path: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Write everything held about a person as JSON.

    Write everything the state store holds about a person as JSON: records with their
    attributes per system, activities, written values, history, failures."""
    from sync.access import export_person, export_text
    from sync.cli import bundled_rules, opened
    from sync.console import fail, out

    addresses, problems = addresses_given([email], None)
    if problems:
        fail(problems)
    with opened(bundled_rules(), need_systems=False) as application:
        document = export_person(application.store, addresses[0])
    if document is None:
        fail(f"{addresses[0]} is not in the state store")
    text = export_text(document)
    if out_path is None:
        typer.echo(text, nl=False)
        return
    try:
        out_path.write_text(text, "utf-8")
    except OSError as error:
        fail(f"{out_path}: cannot write it ({error.strerror or error})", code=1)
    out.print(f"wrote {out_path}", highlight=False, markup=False)
