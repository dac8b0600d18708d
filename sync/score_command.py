"""`leadscore score`: contacts and activities from files or a database, scored, ranked or
written.

The files are read into columns (`connectors.files`, pyarrow) and become the engine's
frames here, so that neither the connector nor the engine holds a row object.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from connectors.attributes import AttributeMap
from connectors.errors import InputFileError
from connectors.files import (
    ActivitiesRead,
    ContactsRead,
    WarehouseUnreachable,
    activity_reader,
    file_format,
    moment_problem,
    parse_moment,
    read_contact_columns,
    write_columns,
)
from scoring import (
    AccountRollups,
    ActivityFrame,
    ContactFrame,
    RuleSet,
    ScoreBatch,
    TextCategories,
    account_keys,
    included,
    population_bounds,
    population_rollups,
    score_included,
    unparsed_numbers,
)
from sync.console import err, fail, out, rules_from, settings
from sync.errors import EXIT_FAILED
from sync.heap import small_pages
from sync.ranking import print_ranking, result_columns
from sync.rulefile import rule_version
from sync.warehouse_command import (
    ScoreInput,
    ScoreOutput,
    SqlOutput,
    run_columns,
    write_table,
)


def as_of_moment(as_of: str | None) -> datetime:
    """The moment `--as-of` names (now when it is not given); a bad one fails with exit 2."""
    if as_of is None:
        return datetime.now(UTC)
    parsed = parse_moment(as_of)
    if parsed is None:
        fail(f"--as-of: {moment_problem(as_of)}")
    return parsed


def excluded_note(count: int, contacts: str) -> str:
    """The note a command prints when the rules' `exclude` left contacts of a file out."""
    return (
        f"note: {contacts}: {count:,} contacts excluded by the rules (`exclude`): "
        "not scored, left out of what follows"
    )


def score_from_files(
    contacts: ScoreInput,
    rules: Path | None,
    activities: ScoreInput | None,
    as_of: str | None,
    output: ScoreOutput | None,
    top: int,
) -> None:
    """Score the files (or tables, or queries) and print the ranking (`top` rows) or write
    every contact to `output`: a file, or a table (`sync.warehouse_command`)."""
    rule_path = rules or settings().rules
    ruleset = rules_from(rule_path)
    moment = as_of_moment(as_of)
    if isinstance(output, Path):
        try:
            file_format(output)
        except InputFileError as exc:
            fail([str(p) for p in exc.problems])
    batch, accounts, texts = scored_accounts(ruleset, contacts, activities, moment)
    if output is None:
        print_ranking(out, batch, moment, top)
        return
    order = batch.ranking()
    columns = batch.columns(ranked=True, ids=texts is None) | {
        name: (values[0][order], values[1]) if isinstance(values, tuple) else values[order]
        for name, values in accounts.items()
    }
    if texts is not None:  # the file's own text, not string objects turned back
        import pyarrow as pa

        ids, addresses = texts
        columns["id"] = ids.take(pa.array(order)).cast(pa.string())  # as written before
        columns["email"] = (columns["email"][0], addresses.cast(pa.string()))
    names = result_columns(batch)
    names[-1:-1] = list(accounts)  # before the reasons
    chosen = {name: columns[name] for name in names}
    # which rules and when, on every row of a table or a Parquet file
    version = rule_version(rule_path.read_text("utf-8"))
    extra = run_columns(len(batch), version, moment, str(uuid.uuid4()))
    if isinstance(output, SqlOutput):
        write_table(output, chosen, extra)
    else:
        try:
            write_columns(output, chosen, extra)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror}", code=EXIT_FAILED)
    out.print(f"wrote {len(batch)} scored contacts to {output}", highlight=False)


def scored_files(
    ruleset: RuleSet, contacts: Path, activities: Path | None, moment: datetime
) -> ScoreBatch:
    """The contacts and activities of the files scored as of `moment`; bad input fails with
    exit 2, and what a person should know of the files is said on stderr."""
    return scored_accounts(ruleset, contacts, activities, moment)[0]


def account_output(
    ruleset: RuleSet, scored: ContactFrame, rolled: AccountRollups | None
) -> dict[str, Any]:
    """Per scored contact (the batch's rows, in its order) its account's fit, score and
    stage, as `ScoreBatch.columns` gives columns (numbers masked where there is no
    account, the stage as codes and names), when the rules give accounts a fit or stages;
    else none."""
    spec = ruleset.accounts
    if spec is None or rolled is None or not (spec.fit or spec.stages):
        return {}
    keys = account_keys(spec, scored, rolled.domains)
    names = keys.categories.tolist()
    present = keys.codes >= 0

    def per_contact(values: list[float]) -> np.ma.MaskedArray:
        table = np.append(np.round(np.array(values, dtype=np.float64), 2), np.nan)
        spread = table[np.where(present, keys.codes, len(values))]
        return np.ma.masked_invalid(spread)

    stages = [rung.name for rung in spec.stages]
    place = {name: index for index, name in enumerate(stages)}
    stage_of = np.array([place.get(rolled.stage.get(k, ""), -1) for k in names] + [-1])
    columns: dict[str, Any] = {}
    if spec.fit:
        columns["account_fit"] = per_contact([rolled.fit.get(k, 0.0) for k in names])
    known = [k in rolled.accounts for k in names]
    score = [rolled.score(k) if ok else np.nan for k, ok in zip(names, known, strict=True)]
    columns["account_score"] = per_contact(score)
    if spec.stages:
        codes = stage_of[np.where(present, keys.codes, len(names))].astype(np.int32)
        columns["account_stage"] = (codes, np.array(stages, dtype=object))
    return columns


def _read(
    ruleset: RuleSet, contacts: ScoreInput, activities: ScoreInput | None
) -> tuple[ContactFrame, ContactsRead, ActivitiesRead | None]:
    """The contacts' frame, the contacts read and their activities (None without a file)."""
    # only the attributes the rules read become columns of the frames; the activities
    # file is read from disk while the contacts are read
    tie = activity_reader(activities, ruleset.activity_fields()) if activities else None
    # ids repeated in the contacts file are looked for while the engine runs (`scored_accounts`)
    people = read_contact_columns(contacts, ruleset.contact_fields(), later=True)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the contacts' frame (their addresses normalized, then per distinct address, in
        # Python) is built while pyarrow and numpy read the activities, which let go of
        # the GIL
        frame_later = pool.submit(
            lambda: ContactFrame.from_arrays(
                people.ids,
                TextCategories(*people.address_codes()),
                people.attributes,
                normalized=True,
            )
        )
        try:
            read = tie(people) if tie is not None else None
        except (InputFileError, WarehouseUnreachable):
            people.check()  # the contacts' problems are said first, as they are read first
            raise
        return frame_later.result(), people, read


def _said_of_input(
    ruleset: RuleSet,
    people: ContactsRead,
    frame: ContactFrame,
    read: ActivitiesRead | None,
    contacts: ScoreInput,
    activities: ScoreInput | None,
) -> None:
    """What a person should know of input that has no problem, on stderr: activities of
    no contact, numbers that are not, attributes the rules read and no contact has."""
    if read is not None and read.unmatched:
        err.print(
            f"note: {read.unmatched} activities in {activities} refer to no contact in "
            f"{contacts}; they were skipped",
            highlight=False,
        )
    for line in unparsed_numbers(ruleset, frame):
        err.print(f"warning: {contacts}: {line}", highlight=False, soft_wrap=False)
    lacking = AttributeMap({}, derive_roles=False).missing(
        ruleset.contact_fields(), people.attributes
    )
    if lacking:
        err.print(
            f"warning: no contact in {contacts} has {', '.join(lacking)}, which the rules "
            "read: rules on them give no points (rename a column, or change the rules)",
            highlight=False,
        )


def scored_accounts(
    ruleset: RuleSet, contacts: ScoreInput, activities: ScoreInput | None, moment: datetime
) -> tuple[ScoreBatch, dict[str, Any], tuple[Any, Any] | None]:
    """`scored_files`, with the scored contacts' account columns (`account_output`), and
    their ids as the Arrow array they were read as and their distinct addresses as an
    Arrow array (the categories of the batch's email codes), when the batch holds every
    contact of the file in its order (else None)."""
    try:
        with small_pages():
            frame, people, read = _read(ruleset, contacts, activities)
    except WarehouseUnreachable as exc:  # not the input's fault: as a refused write
        fail([str(p) for p in exc.problems], code=EXIT_FAILED)
    except InputFileError as exc:
        fail([str(p) for p in exc.problems])
    if read is None:
        acts = ActivityFrame.from_arrays(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0))
    else:
        acts = ActivityFrame.from_arrays(
            read.contact_rows, read.type_codes, read.seconds, read.attributes
        )
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the contacts' ids are checked for repeats on the core the engine leaves idle
        checked = pool.submit(people.check)
        # RFM's quintiles and the accounts' roll-ups over the file's scored contacts,
        # passed in as a sync passes the store's
        try:
            kept = included(ruleset, frame, acts)
            stamp = moment.timestamp()
            bounds = population_bounds(ruleset, kept.activities, len(kept.contacts), stamp)
            rolled = population_rollups(ruleset, kept.contacts, kept.activities, stamp)
            batch, scored = score_included(
                ruleset, frame, acts, moment, rfm=bounds, accounts=rolled
            )
        finally:  # (repeated ids are said first, whatever the engine made of them)
            try:
                checked.result()
            except InputFileError as exc:
                fail([str(p) for p in exc.problems])
            _said_of_input(ruleset, people, frame, read, contacts, activities)
    if batch.excluded_ids:
        err.print(excluded_note(len(batch.excluded_ids), str(contacts)), highlight=False)
    for note in batch.notes:
        err.print(f"note: {activities}: {note}", highlight=False, soft_wrap=False)
    ids = people.id_column
    whole = ids is not None and len(ids) == len(batch) and not batch.excluded_ids
    texts = (ids, people.address_text()) if whole else None
    return batch, account_output(ruleset, scored.contacts, rolled), texts
