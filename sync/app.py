"""The application: one object that wires a run from settings, for every way leadscore runs.

    with Leadscore.open() as app:          # settings from the environment
        app.setup()                        # create the fields where missing
        summary = app.sync(SyncOptions())  # pull, score, diff, write
        result = app.rescore("hubspot:51") # one record now (a webhook's ask)

Settings -> rule file -> each registered system's fields (named and shaped by
its capabilities) -> a connector for each configured system -> the state
store -> `Sync`. Everything a user can get wrong is checked here before any
call to any system, and raised as a `sync.errors.SyncError` that says what to
fix. The CLI, the demo, the benchmarks, the tests and the triggers all open
a run this way, so they cannot disagree on how one is wired.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from connectors.attributes import AttributeMap
from connectors.policy import Clock
from connectors.protocol import Connector, SetupReport
from connectors.registry import SYSTEMS
from connectors.system import BuildOptions
from scoring import ActivityType, RuleSet, ScoreBatch
from sync.account_sync import accounts_system, with_accounts
from sync.config import read_settings
from sync.dues import pull_fingerprint
from sync.errors import ConfigError, NotConfigured, NotInStore, SetupNeeded, StoreUnavailable
from sync.fields import FieldMap, FieldNameError
from sync.gone_check import GoneCheck
from sync.models import model_reads, read_models, score_models
from sync.pipeline import Progress, Sync
from sync.rulefile import read_rules
from sync.settings import Settings, credential_settings
from sync.setup_memo import remember_check
from sync.shadow_write import extra_system, shadow_maps, shadow_system
from sync.stages import StageMap, StageMapError, unknown_stages
from sync.store import People, StateStore
from sync.summary import SyncOptions, SyncSummary
from sync.trigger import Rescored, parse_record, rescore_record, written_of

if TYPE_CHECKING:
    from sync.retention import Retention

log = logging.getLogger("leadscore.sync")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Explanation:
    """One person's score as the store knows them: the batch of one, their records."""

    batch: ScoreBatch
    people: People
    person: int
    at: datetime | None = None
    """The moment scored as of."""
    models: Mapping[str, ScoreBatch] = field(default_factory=dict)
    """Per extra model, the person scored under it (empty: its condition does not hold)."""

    @property
    def records(self) -> list[tuple[str, str]]:
        return self.people.records.get(str(self.person), [])


class Leadscore:
    """A rule set, a state store and the configured systems, ready to sync."""

    def __init__(
        self, settings: Settings, job: Sync, attributes: Mapping[str, AttributeMap] | None = None
    ) -> None:
        self.settings = settings
        self.job = job
        self.attributes = dict(attributes or {})
        """System -> its fields' mapping onto rule attributes (defaults and settings)."""

    @classmethod
    def open(
        cls,
        settings: Settings | None = None,
        *,
        rules: RuleSet | Path | None = None,
        connectors: Sequence[Connector] | None = None,
        store: StateStore | None = None,
        clock: Callable[[], datetime] = utc_now,
        pace: Clock | None = None,
        seed: int | None = None,
        progress: Progress | None = None,
        need_systems: bool = True,
        http: Mapping[str, Any] | None = None,
    ) -> Leadscore:
        """Everything checked and wired, before any call to any system.

        `rules` overrides the rule file of the settings; `connectors` the ones the
        settings would build (tests with their own call policy); `store` the one the
        settings name (a caller that keeps one open across runs); `clock` is read once
        per run; `pace` is the clock call policies wait on and `seed` their jitter's.
        Without `need_systems`, a store-only use (explain, status) needs no credentials.
        `http` gives a system's connector the `requests.Session` it sends through (the
        sandbox's Salesforce is reached so).
        """
        settings = settings if settings is not None else read_settings()
        text = None  # a rule set given as such: kept as its canonical text (`sync.history`)
        if isinstance(rules, RuleSet):
            ruleset = rules
        else:
            ruleset = read_rules(rules or settings.rules)
            text = (rules or settings.rules).read_text("utf-8")
        configured = [e.name for e in SYSTEMS if settings.section(e.name).configured]
        if connectors is not None:
            configured = [c.system for c in connectors]
        fields = field_maps(settings, ruleset, configured)
        models = read_models(
            settings.models, ruleset, fields, [e.capabilities for e in SYSTEMS], configured,
            live_prefix=settings.field_prefix, shadow_prefix=settings.shadow_field_prefix,
        )  # fmt: skip
        reads = model_reads(models)
        attributes = {e.name: e.attribute_map(settings.section(e.name)) for e in SYSTEMS}
        if connectors is None:
            connectors = build_connectors(
                settings, ruleset, fields, attributes, pace=pace, seed=seed, http=http,
                clock=clock, reads=reads,
            )  # fmt: skip
        if not connectors and need_systems:
            hints = " or ".join(credential_settings(e.name) for e in SYSTEMS)
            raise NotConfigured(
                f"no system is configured: set {hints} (see .env.example), "
                "or run `leadscore demo` to try the local sandbox"
            )
        if store is None:
            store = open_store(settings.state_url.get_secret_value())
        pulls = {
            name: pull_fingerprint(
                fields[name].pulled(ruleset, attributes[name], reads), attributes[name]
            )
            for name in configured
        }
        job = Sync(
            ruleset, store, connectors, fields, clock=clock, progress=progress, pulls=pulls,
            rules_text=text, models=models,
        )  # fmt: skip
        return cls(settings, job, attributes)

    # -- the verbs --------------------------------------------------------------------------

    @property
    def rules(self) -> RuleSet:
        return self.job.rules

    @property
    def store(self) -> StateStore:
        return self.job.store

    @property
    def connectors(self) -> list[Connector]:
        return self.job.connectors

    def fields(self, system: str) -> FieldMap:
        return self.job.fields[system]

    def map_stages(self) -> list[StageMap]:
        """Check the configured stage mappings against each system's own lifecycle values
        (one call per mapped system) and use them for the writes to come."""
        maps = []
        for connector in self.connectors:
            section = self.settings.section(connector.system)
            mapping = section.stage_mapping()
            field = connector.capabilities.lifecycle_field
            if not mapping or field is None:
                continue
            setting = f"LEADSCORE_{connector.system}__{section.stage_setting or ''}".upper()
            wrong = unknown_stages(self.rules, mapping, setting)
            if wrong:  # said before the call that reads the system's own values
                raise ConfigError(wrong)
            order = connector.stage_values()
            try:
                maps.append(
                    StageMap.checked(self.rules, connector.system, field, mapping, order, setting)
                )
            except StageMapError as exc:
                raise ConfigError(str(exc)) from None
            if connector.capabilities.lifecycle_note:
                log.info(connector.capabilities.lifecycle_note, extra={"system": connector.system})
        self.job.stage_maps = {m.system: m for m in maps}
        return maps

    def notes(self) -> list[str]:
        """What the configured stage mappings do not reach, per system that says so."""
        return [
            f"{c.system}: {c.capabilities.lifecycle_note}"
            for c in self.connectors
            if c.capabilities.lifecycle_note and c.system in self.job.stage_maps
        ]

    def setup(
        self, *, dry_run: bool = False, shadow: Mapping[str, FieldMap] | None = None
    ) -> dict[str, SetupReport]:
        """Create the missing fields in every system (and the shadow rules' fields of
        `shadow`, `shadow_fields`); writes they refused may now land.

        A configured stage mapping is checked first: setting up for writes that could
        never be made is a mistake better reported before anything is created."""
        self.map_stages()
        reports = {}
        for connector in self.connectors:
            fields = self.fields(connector.system)
            report = connector.setup(fields.specs, dry_run=dry_run)
            report = with_accounts(connector, fields, report, dry_run)
            found = self.extra_setup(connector, shadow, dry_run)
            report = report if found is None else report.joined(found)
            reports[connector.system] = report
            if not dry_run:
                models = [extra_system(connector.system, m.kind) for m in self.job.models]
                for system in (connector.system, accounts_system(connector.system),
                               shadow_system(connector.system), *models):  # fmt: skip
                    self.store.clear_refused(system)
        if not dry_run:  # a trigger's cold start need not check the fields again
            remember_check(self)
        return reports

    def extra_setup(
        self, connector: Connector, shadow: Mapping[str, FieldMap] | None, dry_run: bool
    ) -> SetupReport | None:
        """`setup` of a system's fields beside the live ones, in one call: the shadow rules'
        of `shadow` and each extra model's, `sync.models` (None: it has none)."""
        system = connector.system
        extras = [shadow[system]] if shadow is not None and system in shadow else []
        extras += [m.maps[system] for m in self.job.models if system in m.maps]
        if not extras:
            return None
        return connector.setup([s for extra in extras for s in extra.specs], dry_run=dry_run)

    def shadow_fields(self, shadow: RuleSet) -> dict[str, FieldMap]:
        """Per registered system, the fields `shadow`'s score, grade and stage are written to
        (`sync.shadow_write`), named from `LEADSCORE_SHADOW_FIELD_PREFIX`; a name a system
        refuses, or a live field's, is a `ConfigError`."""
        systems = [entry.capabilities for entry in SYSTEMS]
        try:
            return shadow_maps(shadow, self.job.fields, systems, self.settings.shadow_field_prefix)
        except FieldNameError as exc:
            raise ConfigError(
                f"{exc}: choose another LEADSCORE_SHADOW_FIELD_PREFIX (one holding 'shadow')"
            ) from None

    def warnings(self, reports: Mapping[str, SetupReport]) -> list[str]:
        """What the rules read that a system's fields do not give (from setup's reports)."""
        from sync.preview import unread_attributes

        return unread_attributes(self.rules, self.attributes, reports)

    def check_setup(self, shadow: Mapping[str, FieldMap] | None = None) -> None:
        """Raise `SetupNeeded` when a system lacks a field or option (two calls per system;
        one more for the shadow rules' fields of `shadow`)."""
        for connector in self.connectors:
            fields = self.fields(connector.system)
            report = connector.setup(fields.specs, dry_run=True)
            report = with_accounts(connector, fields, report, dry_run=True)
            how = ""
            found = self.extra_setup(connector, shadow, dry_run=True)
            if found is not None:
                report = report.joined(found)
                own = (shadow or {}).get(connector.system)
                wanted = set(own.names.values()) if own is not None else set()
                lacking = {m.removeprefix("options of ") for m in found.missing}
                how = " --shadow FILE" if wanted & lacking else ""
            if report.missing:
                raise SetupNeeded(
                    f"{connector.system} lacks {', '.join(report.missing)}: run `leadscore "
                    f"setup{how}` first (it creates them and changes nothing else)"
                )

    def check_ready(self, shadow: Mapping[str, FieldMap] | None = None) -> None:
        """The stage mappings and the fields checked, as before any write to a system."""
        self.map_stages()
        self.check_setup(shadow)

    def sync(self, options: SyncOptions | None = None) -> SyncSummary:
        """A run, once the stage mappings and the fields have been checked."""
        options = options or SyncOptions()
        if options.dry_run:
            return self.dry_run(options)
        self.check_ready(options.shadow_fields)
        if options.retention is None:
            options = replace(options, retention=self.retention())
        if options.gone_check is None:
            config = self.settings
            check = GoneCheck(config.gone_check_days, config.gone_check_max_calls)
            options = replace(options, gone_check=check)
        return self.job.run(options)

    def retention(self) -> Retention:
        """How long the store keeps activities and score history, from the settings."""
        from sync.retention import Retention  # here: a trigger's rescore purges nothing

        config = self.settings
        return Retention(config.retention_days, config.history_retention_days)

    def dry_run(self, options: SyncOptions) -> SyncSummary:
        """What setup would create and what a sync would write, before or after setup:
        nothing is written to any system, and the store is left as it was (the run goes
        into a scratch copy, `sync.preview`)."""
        from sync.preview import scratch_store  # here: a trigger's rescore is never a preview

        self.map_stages()
        setup = {
            c.system: with_accounts(
                c, self.fields(c.system), c.setup(self.fields(c.system).specs, dry_run=True), True
            )
            for c in self.connectors
        }
        for c in self.connectors:  # the shadow fields a `--shadow-write` run needs, the models'
            found = self.extra_setup(c, options.shadow_fields, dry_run=True)
            if found is not None:
                setup[c.system] = setup[c.system].joined(found)
        job = self.job
        with scratch_store(self.store, job.clock()) as (scratch, exact):
            trial = Sync(
                job.rules,
                scratch,
                job.connectors,
                job.fields,
                clock=job.clock,
                progress=job.progress,
                stage_maps=list(job.stage_maps.values()),
                pulls=job.pulls,
                monotonic=job.monotonic,
                rules_text=job.rules_text,
                models=job.models,
            )
            summary = trial.run(options if exact else replace(options, full=True))
            summary.emails = trial.store.load_people().record_emails()
        summary.setup = setup
        summary.warnings = [*self.warnings(setup), *summary.warnings]
        return summary

    def rescore(self, who: str) -> Rescored:
        """One record, `SYSTEM:RECORD_ID`, fetched, scored and written now, beside any
        sync (`sync.trigger`): `queued` for a running sync or `busy` with another rescore
        of it, before any call. Going ahead, it checks the stage mappings and the fields
        as `sync` does, beside the fetch, and stores or writes nothing before they pass."""
        system, record_id = parse_record(who)
        return rescore_record(self.job, system, record_id, prepare=self.check_ready)

    def explain(self, who: str) -> Explanation:
        """One person, by email or by a record id in a system, scored as of now."""
        person = self.store.person_of(who)
        if person is None:
            raise NotInStore(f"{who!r} is not in the state store; run `leadscore sync` first")
        at = self.job.clock()
        batch, people = self.job.score([person], as_of=at)
        if not len(batch):
            raise NotInStore(f"{who!r} is excluded from scoring by the rules (`exclude`)")
        written = written_of(self.store, [person]) if self.job.models else {}
        models = score_models(self.job, people, at, written) if self.job.models else {}
        return Explanation(batch, people, person, at, models)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


# -- each step, checked -----------------------------------------------------------------------


def field_maps(
    settings: Settings, rules: RuleSet, configured: Sequence[str]
) -> dict[str, FieldMap]:
    """Every registered system's fields for `rules`, named by the system's rules.

    A name a configured system cannot hold is a `ConfigError`; a system that is not
    configured only has its fields read back from the store, so it is left out then.
    """
    maps = {}
    for entry in SYSTEMS:
        try:
            maps[entry.name] = FieldMap.for_rules(rules, entry.capabilities, settings.field_prefix)
        except FieldNameError as exc:
            if entry.name in configured:
                raise ConfigError(
                    f"{entry.label}: {exc}: choose a shorter LEADSCORE_FIELD_PREFIX "
                    "or shorter dimension names in the rule file"
                ) from None
    return maps


def build_connectors(
    settings: Settings,
    rules: RuleSet,
    fields: Mapping[str, FieldMap],
    attributes: Mapping[str, AttributeMap],
    *,
    pace: Clock | None = None,
    seed: int | None = None,
    http: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] = utc_now,
    reads: Sequence[str] = (),
) -> list[Connector]:
    """A connector for each system with credentials in `settings`; its SDK is imported now.
    `http`: system -> the HTTP session its client sends through (None: its own); `clock`
    dates how far back the rules read activities (`BuildOptions.history`); `reads`: the
    contact fields the extra models read besides (`sync.models.model_reads`)."""

    def history(types: Collection[ActivityType]) -> datetime | None:
        days = rules.horizon_days(types)
        return None if days is None else clock() - timedelta(days=days)

    built = []
    for entry in SYSTEMS:
        section = settings.section(entry.name)
        if not section.configured:
            continue
        mapping = attributes[entry.name]
        session = (http or {}).get(entry.name)
        options = BuildOptions(
            fields[entry.name].pulled(rules, mapping, reads), pace, seed, mapping, session, history
        )
        try:
            built.append(entry.build(section, options))
        except ValueError as exc:
            raise ConfigError(f"{entry.label}: {exc}") from None
    return built


def open_store(url: str) -> StateStore:
    """The state store, or an error naming the setting (never the URL: it may hold a password)."""
    import sqlalchemy.exc

    from sync.schema import StoreVersionError

    try:
        return StateStore(url)
    except StoreVersionError as exc:
        raise ConfigError(str(exc)) from None
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
        raise ConfigError(
            f"setting LEADSCORE_STATE_URL: not a usable SQLAlchemy URL ({type(exc).__name__})"
        ) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StoreUnavailable(store_problem(exc)) from None


STORE_PROBLEMS = (
    (
        "readonly database",
        "the state store is read-only: check the file's and folder's permissions",
    ),
    ("disk is full", "the disk holding the state store is full"),
    ("no space left", "the disk holding the state store is full"),
    (
        "unable to open database file",
        "cannot open the SQLite file: check its folder exists and is writable",
    ),
    ("database is locked", "the SQLite file is locked by another program for too long"),
    ("could not translate host name", "the state store's host name does not resolve"),
    ("connection refused", "the state store's server refuses connections (is it running?)"),
    ("password authentication failed", "the state store refused the user name or password"),
    ("does not exist", "the state store's database or user does not exist"),
    ("invalid dsn", "setting LEADSCORE_STATE_URL is malformed"),
    (
        "invalid connection option",
        "setting LEADSCORE_STATE_URL has an option the driver does not know",
    ),
    ("timeout expired", "the state store's server did not answer in time"),
)
"""What a store failure means, from the driver's text (which is never shown: it may quote
the URL or the data)."""


def store_problem(error: BaseException) -> str:
    """A store failure in words a user can act on, without the driver's own text."""
    text = str(getattr(error, "orig", None) or error).lower()
    for clue, said in STORE_PROBLEMS:
        if clue in text:
            return said
    return f"cannot use the state store ({type(error).__name__})"
