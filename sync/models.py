"""Several models at once: further rule files, each scoring the contacts its condition
names, written to fields of their own in the same run.

    LEADSCORE_MODELS='[{name: enterprise, rules: enterprise.yaml, when: {employees: {gte: 1000}},
                        field_prefix: ent_}]'

    one pull (the live rules' fields, and every model's and condition's) -> the store
    the run's people -> the live rules -> the live fields, as ever
                     -> each model: the people its `when` holds for -> its rules
                        -> its fields (`<prefix>score`, ...), what changed only
                        -> the people it held for before and no longer: its fields cleared

A model is the shadow rules' mechanism made permanent (`sync.shadow_write`): its fields
are named from its own prefix by each system's rule (HubSpot `ent_score`, Salesforce
`Ent_Score__c`; Mailchimp's merge tags have ten characters, so a model's head there is
its `tag`, three letters or digits, `ENT_SCORE`, `ENT_WHY` for the reasons: three
characters so that no model's stage tag is taken for the live one), what was last
written to them is kept under `<system>:model:<name>`, and they hold the score (as
written: whole points, -1000 disqualified), each dimension, the grade, the stage,
disqualified and the reasons: no scoring time.

`when` is a contact condition of the rule language (`scoring.conditions`, as a rule's
`contact:` or `exclude.contact`), or a list of them of which any may hold; like an
exclusion's, it holds when it holds on the person's merged values or on any of their
records' own (`scoring.exclusion.holding`). Who the live rules exclude no model scores,
and a model's own `exclude` leaves out more. A person's model fields change when the
person is rescored (who is due under the live rules, `sync.incremental`); a change of
the declared models rescores everyone once (`sync.dues.fingerprint`). A model's stage
floor is the live stage written, where on its ladder (as the shadow rules'), and its
sales capacity, if any, is decided and rolled back: only the live rules hand over. The
score history is the live rules' alone (a model's velocity reads the live scores).

Everything is checked before any call (`read_models`): names, prefixes distinct from
the live and shadow prefixes and from each other, tags distinct, field names no other
field has, and each rule file (file, line and field of each problem: exit 2).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scoring import (
    Conditions,
    Exclusion,
    RuleFileError,
    RuleSet,
    ScoreBatch,
    holding,
    joined_exclusions,
)
from sync.errors import ConfigError
from sync.fields import FieldMap, FieldNameError, written_score
from sync.rulefile import read_rules
from sync.shadow_write import MODEL_KEYS, extra_fields, taken_names, write_extra

if TYPE_CHECKING:
    from datetime import datetime

    from pydantic_core import ErrorDetails

    from connectors.protocol import Capabilities
    from sync.people import People
    from sync.pipeline import Sync, Written
    from sync.summary import SyncOptions

SETTING = "LEADSCORE_MODELS"
MAX_MODELS = 20
HEADED_SYSTEMS = frozenset({"mailchimp"})
"""Systems whose field names are too short for a model's prefix: its `tag` heads them."""


class Declared(BaseModel):
    """One model as the setting declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,29}$", description="Lower case, 1-30.")
    rules: str = Field(min_length=1, max_length=1000, description="Its rule file.")
    when: Conditions | list[Conditions] = Field(
        description="The contacts it scores: a contact condition, or a list (any holds)."
    )
    field_prefix: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$", description="Prefix of its fields."
    )
    tag: str | None = Field(
        None, pattern=r"^[A-Za-z][A-Za-z0-9]{2}$", description="Its Mailchimp head, 3 chars."
    )


@dataclass(frozen=True)
class Model:
    """A further rule file, the contacts it scores and its fields in each system."""

    name: str
    path: Path
    rules: RuleSet
    """Its rule file's rules, the live rules' exclusion joined to its own."""
    when: tuple[Conditions, ...]
    """Conditions, any of which names a contact it scores."""
    prefix: str
    tag: str
    maps: Mapping[str, FieldMap]
    """Per registered system that can hold them, its fields."""

    @property
    def kind(self) -> str:
        """What its written values are kept under: `<system>:model:<name>`."""
        return f"model:{self.name}"

    @property
    def condition(self) -> Exclusion:
        """`when` as an exclusion's conditions: evaluated alike, read alike."""
        return Exclusion.model_construct(any=list(self.when), emails=[])

    @property
    def reading(self) -> RuleSet:
        """Its rules with `when` among what they read: the fields pulled and kept for it."""
        both = joined_exclusions(self.rules.exclude, self.condition)
        return self.rules.model_copy(update={"exclude": both})


def default_tag(name: str) -> str:
    """A model's Mailchimp head from its name: its first three letters or digits."""
    return (re.sub(r"[^A-Z0-9]", "", name.upper()) + "XXX")[:3]


def where(error: ErrorDetails) -> str:
    """The field an error is of, without pydantic's names of types (`when.country.gt`)."""
    return ".".join(str(p) for p in error["loc"] if "[" not in str(p)) or "(entry)"


def other_form(error: ErrorDetails, form: str) -> bool:
    """Whether an error is of the form of `when` not given (`dict[` or `list[`)."""
    loc = error["loc"]
    return loc[:1] == ("when",) and len(loc) > 1 and not str(loc[1]).startswith(form)


def declared(text: str) -> list[Declared]:
    """The setting's entries, checked; a `ConfigError` naming the entry and field."""
    if not text.strip():
        return []
    try:  # the rule files' reader: bounded, and `NO` (Norway) stays text
        from scoring import plain_data  # PyYAML: only where models are declared

        data, _ = plain_data(text, SETTING)
    except RuleFileError as exc:
        raise ConfigError([f"setting {p}" for p in exc.problems]) from None
    if not isinstance(data, list) or len(data) > MAX_MODELS:
        raise ConfigError(f"setting {SETTING}: expected a list of at most {MAX_MODELS} models")
    out = []
    for index, entry in enumerate(data, start=1):
        try:
            out.append(Declared.model_validate(entry))
        except ValidationError as exc:
            name = entry.get("name") if isinstance(entry, dict) else None
            who = f"model {index}" + (f" ({name})" if isinstance(name, str) else "")
            # of `when`'s two forms, the errors of the one given
            listed = isinstance(entry, dict) and isinstance(entry.get("when"), list)
            form = "list[" if listed else "dict["
            errors = [e for e in exc.errors() if not other_form(e, form)]
            raise ConfigError(
                [f"setting {SETTING}: {who}, field {where(e)}: {e['msg']}" for e in errors]
            ) from None
    return out


def distinct(entries: Sequence[Declared], live_prefix: str, shadow_prefix: str) -> None:
    """Names, prefixes and tags that two models (or a model and the live or shadow fields)
    would share: a `ConfigError`."""
    seen: dict[str, str] = {live_prefix.lower(): "the live fields' (LEADSCORE_FIELD_PREFIX)"}
    seen[shadow_prefix.lower()] = "the shadow fields' (LEADSCORE_SHADOW_FIELD_PREFIX)"
    names: set[str] = set()
    tags: dict[str, str] = {}
    for entry in entries:
        if entry.name in names:
            raise ConfigError(f"setting {SETTING}: two models are named {entry.name!r}")
        names.add(entry.name)
        prefix = entry.field_prefix.lower()
        if prefix in seen:
            raise ConfigError(
                f"setting {SETTING}: model {entry.name}, field field_prefix: "
                f"{entry.field_prefix!r} is {seen[prefix]} prefix too"
            )
        seen[prefix] = f"model {entry.name}'s"
        tag = (entry.tag or default_tag(entry.name)).upper()
        if tag in tags:
            raise ConfigError(
                f"setting {SETTING}: models {tags[tag]} and {entry.name} would both head their "
                f"Mailchimp fields {tag}_: give one another `tag` (three letters or digits)"
            )
        tags[tag] = entry.name


def model_maps(
    entry: Declared,
    rules: RuleSet,
    systems: Sequence[Capabilities],
    configured: Sequence[str],
    taken: Mapping[str, set[str]],
) -> dict[str, FieldMap]:
    """Per system, the model's fields; a name a configured system refuses, or one another
    field there has (`taken`: names per system, lower case), is a `ConfigError`."""
    tag = (entry.tag or default_tag(entry.name)).upper()
    out = {}
    for capabilities in systems:
        system = capabilities.system
        prefix = f"{tag}_" if system in HEADED_SYSTEMS else entry.field_prefix.lower()
        label = entry.name.replace("_", " ").capitalize()
        note = f" Written by the model {entry.name} ({entry.rules}) for the contacts it scores."
        try:
            found = extra_fields(rules, capabilities, prefix, label=label, note=note,
                                 keys=MODEL_KEYS)  # fmt: skip
        except FieldNameError as exc:
            if system not in configured:
                continue
            raise ConfigError(
                f"setting {SETTING}: model {entry.name}: {exc}: choose another field_prefix"
                + (" or tag" if system in HEADED_SYSTEMS else "")
            ) from None
        same = [s.name for s in found.specs if s.name.lower() in taken.get(system, set())]
        if same and system in configured:
            raise ConfigError(
                f"setting {SETTING}: model {entry.name}: {system} field {same[0]!r} is "
                "another field's name: choose another field_prefix"
            )
        out[system] = found
    return out


def read_models(
    text: str,
    live: RuleSet,
    live_fields: Mapping[str, FieldMap],
    systems: Sequence[Capabilities],
    configured: Sequence[str],
    *,
    live_prefix: str,
    shadow_prefix: str,
) -> tuple[Model, ...]:
    """The models the setting declares, every one checked and its rule file read, before
    any call to any system; a `ConfigError` (exit 2) says what is wrong and where."""
    entries = declared(text)
    distinct(entries, live_prefix, shadow_prefix)
    taken = {s: taken_names(live_fields, s) for s in live_fields}
    models = []
    for entry in entries:
        try:
            rules = read_rules(Path(entry.rules))
        except ConfigError as exc:
            raise ConfigError([f"setting {SETTING}: model {entry.name}:", *exc.lines]) from None
        maps = model_maps(entry, rules, systems, configured, taken)
        for system, fields in maps.items():
            taken.setdefault(system, set()).update(n.lower() for n in fields.names.values())
        when = tuple(entry.when) if isinstance(entry.when, list) else (entry.when,)
        if not all(when):
            raise ConfigError(
                f"setting {SETTING}: model {entry.name}, field when: an empty condition "
                "would name every contact"
            )
        both = joined_exclusions(live.exclude, rules.exclude)
        scored = rules if both is rules.exclude else rules.model_copy(update={"exclude": both})
        tag = (entry.tag or default_tag(entry.name)).upper()
        models.append(Model(entry.name, Path(entry.rules), scored, when,
                            entry.field_prefix.lower(), tag, maps))  # fmt: skip
    return tuple(models)


def model_reads(models: Sequence[Model]) -> list[str]:
    """The contact fields the models and their conditions read (pulled with the live ones)."""
    return list(dict.fromkeys(f for m in models for f in m.reading.contact_fields()))


def applies(model: Model, people: People) -> list[bool]:
    """Per contact of `people`, whether the model's `when` holds (on the merged values or
    on any record's own)."""
    condition = model.condition
    contacts, _ = people.frames(condition.contact_fields(), [], exclude=condition)
    return [bool(v) for v in holding(list(model.when), contacts)]


def chosen(people: People, mask: Sequence[bool]) -> People:
    """The persons of `people` `mask` keeps (their activities are found by person)."""
    from dataclasses import replace

    contacts = [c for c, keep in zip(people.contacts, mask, strict=True) if keep]
    ids = {c.id for c in contacts}
    records = {p: r for p, r in people.records.items() if p in ids}
    return replace(people, contacts=contacts, records=records)


def score_models(
    job: Sync, people: People, as_of: datetime, written: Written
) -> dict[str, ScoreBatch]:
    """Per model of the job, the people of the run its condition holds for, scored under
    its rules (the live rules' stage floors; its hand-over rolled back)."""
    from sync.incremental import score_people

    out = {}
    for model in job.models:
        mine = chosen(people, applies(model, people))
        out[model.name], _ = score_people(job, mine, as_of, written, rules=model.rules)
    return out


def write_models(
    job: Sync,
    options: SyncOptions,
    batches: Mapping[str, ScoreBatch],
    people: People,
    as_of: datetime,
) -> dict[str, dict[str, dict[str, int]]]:
    """Each model's fields brought up to date for the run's people (cleared for those it
    no longer scores); per model and system, the writes planned, written and failed."""
    done = {}
    for model in job.models:
        batch = batches.get(model.name)
        if batch is None:
            continue
        done[model.name] = write_extra(
            job, options, batch, people, model.maps, as_of, kind=model.kind, clear=True
        )
    return done


def models_fingerprint(models: Sequence[Model]) -> str | None:
    """A digest of the declared models, for the run's fingerprint (None without any): a
    change rescores everyone."""
    if not models:
        return None
    parts = [
        [m.name, m.prefix, m.tag, [dict(c) for c in m.when], m.rules.model_dump(mode="json")]
        for m in models
    ]
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def model_lines(done: Mapping[str, Mapping[str, Mapping[str, int]]]) -> list[str]:
    """A run's writes of each model's fields, a line per model and system."""
    return [
        f"model {name}, {system}: {n['planned']:,} records with changed values, "
        f"{n['written']:,} written, {n['failed']:,} failed"
        for name, systems in done.items()
        for system, n in systems.items()
    ]


def explained_lines(batches: Mapping[str, ScoreBatch]) -> list[str]:
    """Per model, what it gives one person (`leadscore explain`): its score, stage and
    grade as written, or that it does not score them."""
    lines = []
    for name, batch in batches.items():
        if not len(batch):
            lines.append(
                f"model {name}: does not score them (its `when` does not hold, or it excludes them)"
            )
            continue
        said = [f"score {written_score(batch, 0)}"]
        said += [f"{what} {value}" for what, value in
                 (("stage", batch.stage(0)), ("grade", batch.grade(0))) if value]  # fmt: skip
        lines.append(f"model {name}: {', '.join(said)}; {batch.reasons_text(0, limit=3)}")
    return lines
