"""`leadscore forget`: people erased from the state store, and with `clear_crm` their
leadscore fields emptied in each system that holds a record of theirs first.

The store's systems' run locks are taken for the whole of it (waiting up to `wait` seconds
for a run under way), and the rescores at work are waited for, so no run stores a page it
pulled before the erasure after it: what a later pull brings is new (`sync.erasure`).

Clearing writes every leadscore field of the system's `FieldMap` as the empty value through
the connector's own write, which each system takes as "no value" (HubSpot an empty string,
Salesforce null, Mailchimp an empty merge field and no stage tag: `connectors.protocol.Write`
and each connector's write module). A person is erased only once every record of theirs was
cleared or found gone (the shadow rules' fields written to a record, `sync.shadow_write`,
are emptied with it): one whose clearing did not land stays in the store, so that the
command can be run again for them; the others are erased in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from connectors.errors import ApiError
from connectors.protocol import Connector, Write
from sync.erasure import Erased, erase_people, holdings
from sync.errors import ConfigError, SyncError
from sync.fields import FieldMap, sent
from sync.locks import LockHeld, run_lock, wait_for_rescores
from sync.schema import chunks, identities, written
from sync.settings import credential_settings
from sync.shadow_write import extra_systems
from sync.store import StateStore


@dataclass(frozen=True)
class NotCleared:
    """A record whose leadscore fields could not be emptied."""

    address: str
    system: str
    record_id: str
    reason: str


@dataclass
class Forgotten:
    """What `forget` did: the erasures, what was cleared, and who was kept for a retry."""

    erased: list[Erased] = field(default_factory=list)
    cleared: dict[str, int] = field(default_factory=dict)
    """Records emptied per system."""
    not_cleared: list[NotCleared] = field(default_factory=list)

    @property
    def kept(self) -> list[str]:
        """Addresses left in the store because a clearing did not land."""
        return sorted({n.address for n in self.not_cleared})


def records_to_clear(
    store: StateStore, addresses: Sequence[str]
) -> dict[str, dict[str, list[tuple[str, str | None]]]]:
    """Per system, per address: the live records (id, address) the store holds."""
    found: dict[str, dict[str, list[tuple[str, str | None]]]] = {}
    with store.engine.connect() as connection:
        for address in addresses:
            held = holdings(connection, address)
            for system, record in sorted(held.records):
                email = connection.execute(
                    sa.select(identities.c.email).where(
                        identities.c.system == system, identities.c.record_id == record
                    )
                ).scalar()
                found.setdefault(system, {}).setdefault(held.address, []).append((record, email))
    return found


def extra_written(store: StateStore, system: str, records: Sequence[str]) -> dict[str, list[str]]:
    """Per record, the shadow rules' and the models' fields written to it
    (`sync.shadow_write`, `sync.models`), by name."""
    found: dict[str, list[str]] = {}
    with store.engine.connect() as connection:
        for part in chunks(sorted(records)):
            rows = connection.execute(
                sa.select(written.c.record_id, written.c["values"]).where(
                    extra_systems(written.c.system, system), written.c.record_id.in_(part)
                )
            )
            for record, values in rows:
                found.setdefault(str(record), []).extend(sent(json.loads(values)))
    return found


def clear_records(
    connector: Connector,
    fields: FieldMap,
    records: dict[str, list[tuple[str, str | None]]],
    done: Forgotten,
    shadow: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Empty the leadscore fields of these records of one system (by address), and the
    shadow fields `shadow` names per record (those written to it)."""
    by_email = fields.capabilities.record_key == "email"
    owner = {record: address for address, rs in records.items() for record, _ in rs}
    also = shadow or {}
    writes = [
        Write(
            record,
            {**fields.cleared(), **dict.fromkeys(also.get(record, ()), "")},
            email if by_email else None,
        )
        for rs in records.values()
        for record, email in rs
    ]
    try:
        outcome = connector.write(writes)
    except ApiError as error:
        for write in writes:
            done.not_cleared.append(
                NotCleared(owner[write.record_id], connector.system, write.record_id, str(error))
            )
        return
    gone = {g.record_id for g in outcome.gone}
    done.cleared[connector.system] = len([r for r in outcome.written if r in owner]) + len(gone)
    for failure in outcome.failed:
        if failure.record_id in owner and failure.record_id not in gone:
            done.not_cleared.append(
                NotCleared(
                    owner[failure.record_id], connector.system, failure.record_id, failure.reason
                )
            )


def forget_people(
    store: StateStore,
    addresses: Sequence[str],
    *,
    connectors: Sequence[Connector] = (),
    fields: dict[str, FieldMap] | None = None,
    clear_crm: bool = False,
    skip_unconfigured: bool = False,
    wait: float = 0.0,
) -> Forgotten:
    """Forget the people of these addresses (normalized by the caller), clearing their
    leadscore fields first when `clear_crm` (through `connectors` and their `fields`).
    A system holding a record of theirs with no connector refuses it all (`ConfigError`,
    nothing cleared or erased) unless `skip_unconfigured`: its records are then erased
    from the store uncleared."""
    done = Forgotten()
    systems = sorted(set(store.systems()) | {c.system for c in connectors})
    try:
        lock = run_lock(store, systems, wait=wait)
    except LockHeld as busy:
        # Not the quiet skip of a scheduled sync: nobody was forgotten, and the person
        # who asked must know it.
        raise SyncError(
            f"nothing forgotten: {'; '.join(busy.lines)}; run it again, or give --wait"
        ) from None
    try:
        wait_for_rescores(store)
        if clear_crm:
            held = records_to_clear(store, addresses)
            unreachable = sorted(set(held) - {c.system for c in connectors})
            if unreachable and not skip_unconfigured:
                # Erasing them would leave their scores in that CRM with nothing to
                # find the records by again.
                raise ConfigError(
                    [
                        f"nothing forgotten: {s} holds records of theirs and is not "
                        f"configured; set {credential_settings(s)} to clear them, or give "
                        f"--skip-unconfigured to erase them uncleared (their leadscore fields "
                        f"stay in {s})"
                        for s in unreachable
                    ]
                )
            for connector in connectors:
                records = held.get(connector.system)
                if records and fields is not None:
                    ids = [record for rs in records.values() for record, _ in rs]
                    shadow = extra_written(store, connector.system, ids)
                    clear_records(connector, fields[connector.system], records, done, shadow)
        kept = set(done.kept)
        done.erased = erase_people(store, [a for a in addresses if a not in kept])
    finally:
        lock.release()
    return done
