"""Minimisation: the state store keeps only the contact and activity fields the rules read.

What a system's pull brings holds more than scoring needs (Mailchimp sends every merge
field; HubSpot's counters and form submissions their page titles and URLs). Before a page
is stored, each contact keeps only

- the attributes the rule set reads (`RuleSet.contact_fields`: rules, BANT, stages),
- the fields leadscore writes there and the system's lifecycle field, which a run reads
  back as a stage floor (`FieldMap.held`), and what a system's `read_back` reads besides
  (`Capabilities.read_back_fields`: Mailchimp's tags, only leadscore's stage tags of them
  unless the rules read `tags`),

and each activity only the attributes the rules' `where` conditions and the bot-click
filter read (`RuleSet.activity_fields`), plus `recorded_by` (which source dated it, as
`explain` says). Identity (record id, address) lives in columns of its own and is kept.

The extra models' fields, and those their conditions read, are pulled and kept as the
live rules' (`sync.models`). A shadow run keeps the shadow rules' fields too, of what it
stores; it does not pull again for them (what the live rules do not pull stays blank for
the shadow: `sync.shadow`).

What the store keeps of activities under the live rules is remembered per system and
stream (the `~activity-fields` cursor row). When it changes (a rule reads another
activity field, or no longer reads one) every stream of the system is pulled again from
the start and every activity pulled is stored anew as pulled, until each stream was
pulled whole (across runs a deadline cuts short, from where each stopped), so what the
store holds widens or narrows to the new set. A store without the row (made before this
was kept) is pulled again so once. Contact fields follow the contact pull's own
fingerprint (`sync.dues.FIELDS_CURSOR`): the rules reading another contact field make
every contact be read again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from scoring import Contact, RuleSet
from sync.dues import FIELDS_CURSOR
from sync.schema import cursors

if TYPE_CHECKING:
    from connectors.protocol import Connector
    from sync.fields import FieldMap
    from sync.pipeline import Sync
    from sync.store import StateStore
    from sync.summary import SyncOptions

KEPT_CURSOR = "~activity-fields"
"""A cursor row (with the streams') holding, per stream, which activity fields the store
keeps of it: when the rules read others, the stream is pulled again (`kept_for_pull`)."""
ALWAYS_KEPT_ACTIVITY = frozenset({"recorded_by"})
"""Activity attributes kept whatever the rules read: where the activity's date came from."""


@dataclass(frozen=True)
class Kept:
    """The fields the store keeps of one system's contacts and activities."""

    contact: frozenset[str]
    activity: frozenset[str]
    digest: str
    """What the live rules keep of activities, as a short digest (`KEPT_CURSOR`)."""
    revise: bool = False
    """Store every activity pulled as pulled, over what the store holds of it: the fields
    kept changed since its streams were last pulled."""
    ours_only: tuple[tuple[str, str], ...] = ()
    """(field, prefix): list fields kept for `read_back` alone, of which only the names
    starting with the prefix are kept (Mailchimp's tags: our stage tags)."""

    def contacts(self, found: Sequence[Contact]) -> list[Contact]:
        """The contacts with only the attributes kept (a contact holding no other as it is)."""
        keep = self.contact
        kept = [
            c if c.attributes.keys() <= keep else replace(c, attributes=only(c.attributes, keep))
            for c in found
        ]
        for name, prefix in self.ours_only:
            kept = [
                replace(c, attributes={**c.attributes, name: ours(c.attributes[name], prefix)})
                if isinstance(c.attributes.get(name), list | tuple)
                else c
                for c in kept
            ]
        return kept

    def activity_attributes(self, attributes: Mapping[str, Any]) -> Mapping[str, Any]:
        """An activity's attributes, only those kept (as they are when all are)."""
        keep = self.activity
        return attributes if attributes.keys() <= keep else only(attributes, keep)


def only(values: Mapping[str, Any], keep: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k in keep}


def ours(names: Sequence[Any], prefix: str) -> list[Any]:
    """The names of a list field that start with `prefix`."""
    return [n for n in names if str(n).startswith(prefix)]


def kept_fields(
    rule_sets: Iterable[RuleSet],
    fields: FieldMap | None,
    live: RuleSet | None = None,
    models: Sequence[RuleSet] = (),
) -> Kept:
    """What the store keeps of a system (its `fields`, None: only what the rules read)
    for these rule sets; the digest is of what it keeps of activities under `live`
    (default: the first) and the extra `models` (`sync.models`), not a shadow run's."""
    sets = list(rule_sets)
    main = live if live is not None else sets[0]
    contact: set[str] = set()
    activity: set[str] = set(ALWAYS_KEPT_ACTIVITY) | set(main.activity_fields())
    activity.update(name for rules in models for name in rules.activity_fields())
    if fields is not None:
        contact.update(fields.names.values())
        capabilities = fields.capabilities
        if capabilities.lifecycle_field:
            contact.add(capabilities.lifecycle_field)
        contact.update(capabilities.read_back_fields)
        activity.update(capabilities.activity_keys)
    digest = hashlib.sha256("\n".join(sorted(activity)).encode()).hexdigest()[:32]
    read = {name for rules in sets for name in rules.contact_fields()}
    trimmed: tuple[tuple[str, str], ...] = ()
    if fields is not None and fields.capabilities.read_back_prefix is not None:
        prefix = fields.capabilities.read_back_prefix
        trimmed = tuple(
            (name, prefix) for name in fields.capabilities.read_back_fields if name not in read
        )
    contact |= read
    for rules in sets:
        activity.update(rules.activity_fields())
    return Kept(frozenset(contact), frozenset(activity), digest, ours_only=trimmed)


def kept_by_system(
    live: RuleSet,
    fields: Mapping[str, FieldMap | None],
    shadow: RuleSet | None = None,
    models: Sequence[RuleSet] = (),
) -> dict[str, Kept]:
    """What the store keeps of each system a run may store, under the live rules, a
    shadow run's rules and the extra models' (`sync.models.Model.reading`)."""
    sets = [live, *([] if shadow is None else [shadow]), *models]
    return {s: kept_fields(sets, field_map, live, models) for s, field_map in fields.items()}


def stored_systems(job: Sync) -> dict[str, FieldMap | None]:
    """Every system a job may store: its fields, None where it has none."""
    return {**{c.system: None for c in job.connectors}, **job.fields}


def kept_of(job: Sync, system: str) -> Kept:
    """What the store keeps of a system now: the run's, else the live rules' and the
    models' (a trigger's rescore between runs)."""
    found = job.kept.get(system)
    if found is not None:
        return found
    models = [m.reading for m in job.models]
    return kept_by_system(job.rules, stored_systems(job), models=models)[system]


def prepare_pull(
    job: Sync,
    connector: Connector,
    options: SyncOptions,
    pending: dict[str, str],
    warnings: list[str],
    at: datetime,
) -> dict[str, str]:
    """The cursors a run pulls a system's streams from (none: `--full`), and what it keeps
    of what they bring (`job.kept`): the contact stream from the start when the rules read
    other contact fields (`reread_for_fields`), the streams whose activities the store
    holds with other fields from the start too (`kept_for_pull`). A dry run leaves the
    store's cursors as they are."""
    system, streams = connector.system, connector.streams
    stored = {} if options.full else job.store.cursors(system)
    reread_for_fields(job.pulls.get(system), stored, pending, streams, system, warnings)
    kept = kept_of(job, system)
    job.kept[system] = kept_for_pull(
        job.store, system, kept, stored, pending, streams, at, warnings, not options.dry_run
    )
    return stored


def reread_for_fields(
    reads: str | None,
    stored: dict[str, str],
    pending: dict[str, str],
    streams: Sequence[str],
    system: str,
    warnings: list[str],
) -> None:
    """When what a system's contact pull reads (`reads`, `sync.dues.pull_fingerprint`;
    None: not known) changed since the stored cursors, drop the contact stream's cursor:
    unchanged contacts are not pulled again, so all are read for the new fields, and
    stored with only the fields now kept. The new value goes to `pending`."""
    if reads is None:
        return
    if stored and stored.get(FIELDS_CURSOR) != reads:
        stored.pop(streams[0], None)
        warnings.append(
            f"{system}: the rules read other contact fields; every contact is read again"
        )
    pending[FIELDS_CURSOR] = reads


def kept_for_pull(
    store: StateStore,
    system: str,
    kept: Kept,
    stored: dict[str, str],
    pending: dict[str, str],
    streams: Sequence[str],
    at: datetime,
    warnings: list[str],
    commit: bool = True,
) -> Kept:
    """What a pull of a system keeps. Each stream whose activities the store holds with
    other fields than the live rules' now starts again (its cursor dropped from `stored`
    and from the store at once, and marked started under the new fields): until it has
    been pulled whole, every activity the system's pulls bring is stored anew as pulled
    (`Kept.revise`), over what the store holds. `pending` gets the marker a run commits
    once every stream was pulled whole (a run cut short: `cut_marker`). `commit`: False
    for a dry run, which changes no cursor in the store."""
    done, started = kept.digest, kept.digest + STARTED
    held = store.cursors(system)
    states = marker_states(held.get(KEPT_CURSOR))
    again = [stream for stream in streams if states.get(stream) not in (done, started)]
    if again:
        if any(stream in stored for stream in again):
            warnings.append(
                f"{system}: the rules read other activity fields; every activity is read again"
            )
        for stream in again:
            stored.pop(stream, None)
            states[stream] = started
        if commit and any(stream in held for stream in again):  # else none to drop
            restart_streams(store, system, again, states, at)
    pending[KEPT_CURSOR] = _marker({stream: done for stream in streams})
    return replace(kept, revise=any(states[stream] != done for stream in streams))


STARTED = "*"
"""After a stream's marker: pulled again from the start under these fields, not yet whole."""


def marker_states(marker: str | None) -> dict[str, str]:
    """Stream -> the fields its activities are stored with (`STARTED` after: under way)."""
    try:
        found = json.loads(marker) if marker else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _marker(states: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(states.items())), separators=(",", ":"))


def cut_marker(marker: str, whole: set[str]) -> str:
    """The marker a run cut short commits: the streams it did not pull whole stay under way
    (pulled on from their cursor, stored anew), whatever they were."""
    states = marker_states(marker)
    return _marker({s: v if s in whole else v.rstrip(STARTED) + STARTED for s, v in states.items()})


def restart_streams(
    store: StateStore,
    system: str,
    streams: Sequence[str],
    states: Mapping[str, str],
    at: datetime,
) -> None:
    """Drop the streams' cursors and mark them started, in one transaction: the next run
    (this one cut short, or failed) pulls them from the start too, storing anew."""
    with store.writing(), store.engine.begin() as connection:
        connection.execute(
            sa.delete(cursors).where(
                cursors.c.system == system, cursors.c.stream.in_([*streams, KEPT_CURSOR])
            )
        )
        connection.execute(
            sa.insert(cursors).values(
                system=system, stream=KEPT_CURSOR, value=_marker(states), updated_at=at.timestamp()
            )
        )
