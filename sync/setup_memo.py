"""A passed setup check remembered in the store, so that a cold trigger need not ask again.

Before a trigger stores or writes anything, the fields it writes are checked against each
system (`Leadscore.check_setup`: two calls per system, and on HubSpot the import of the
SDK's properties client, about a tenth of a second of CPU). A warm process checks once and
keeps the answer for its life; a serverless function that starts cold many times an hour
would check on every start. So the check's outcome is kept in the store's `meta`:

    setup_checked = {"at": <epoch seconds>, "fields": <fingerprint of what was checked>}

written when `leadscore setup` has made the fields, and when a check has passed. A
trigger's check (`check_ready_remembered`) skips the calls while that entry is younger
than `CHECK_KEPT` and names the same fields (the fingerprint: each configured system's
field specs, its company records' and the extra models' fields, and a digest of the
account it is reached as, `connection_of`, so a new rule file, a new prefix, a new model, another
portal or another token is checked again); a rescore whose write failed forgets it, so
a field deleted in the system since is found by the next start's check. The stage
mappings (`Leadscore.map_stages`) are read on every start still: the writes need them.

What feature probes found (HubSpot's events API, its forms scope: `HubSpotApi.available`)
is kept beside it for as long, per account and feature with its time (`FEATURES_PROBED`):
a trigger's application is given it as it opens (`recall_features`), so a cold answer
makes no probe call and loads nothing for one; a probe made after that, and a call that
finds a remembered feature refused (`HubSpotApi.refused`), keeps its answer anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import SecretStr

from sync.dues import meta_value, set_meta
from sync.schema import meta

if TYPE_CHECKING:
    from sync.app import Leadscore

log = logging.getLogger("leadscore.trigger")

SETUP_CHECKED = "setup_checked"
CHECK_KEPT = 3600.0
"""Seconds a passed check is trusted by another process: about a warm instance's life,
which keeps its own check's answer for as long."""


def checked_fields(app: Leadscore) -> str:
    """The fingerprint of what a trigger's setup check compares with the systems."""
    parts = []
    for connector in app.connectors:
        system = connector.system
        fields = app.fields(system)
        extras = [m.maps[system].specs for m in app.job.models if system in m.maps]
        where = connection_of(app, system)
        parts.append([system, repr(fields.specs), repr(fields.accounts), repr(extras), where])
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


ACCOUNT_SETTINGS = (
    "host", "base_url", "server", "portal_id", "my_domain", "instance_url", "domain",
    "username", "access_token", "api_key",
)  # fmt: skip
"""Settings of a section, besides its credentials, that name the account it reaches."""


def connection_of(app: Leadscore, system: str) -> str:
    """A digest of the account `system` is reached as (its credentials, host, domain...):
    a check made on another portal or with another token is not this one's, while other
    settings (a webhook's secret, a stage mapping) leave it be. Only the digest is kept."""
    section = app.settings.section(system)
    names = sorted({*section.credentials, *ACCOUNT_SETTINGS} & set(type(section).model_fields))
    values = [getattr(section, name) for name in names]
    shown = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
    text = json.dumps(dict(zip(names, shown, strict=True)), default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def remember_check(app: Leadscore, now: float | None = None) -> None:
    """Keep that the fields of `app`'s systems were found (or made) as of `now`."""
    value = json.dumps({"at": time.time() if now is None else now, "fields": checked_fields(app)})
    store = app.store
    with store.writing(), store.engine.begin() as connection:
        set_meta(connection, SETUP_CHECKED, value)


def forget_check(app: Leadscore) -> None:
    """The next cold start checks the fields again."""
    store = app.store
    with store.writing(), store.engine.begin() as connection:
        connection.execute(sa.delete(meta).where(meta.c.key == SETUP_CHECKED))


def check_remembered(app: Leadscore, now: float) -> bool:
    """Whether a check of the same fields passed less than `CHECK_KEPT` seconds ago."""
    with app.store.engine.connect() as connection:
        found = meta_value(connection, SETUP_CHECKED)
    try:
        kept = json.loads(found) if found is not None else {}
        at, fields = float(kept["at"]), str(kept["fields"])
    except (ValueError, KeyError, TypeError):
        return False
    return 0.0 <= now - at < CHECK_KEPT and fields == checked_fields(app)


def check_ready_remembered(app: Leadscore, clock: Callable[[], float] = time.time) -> None:
    """`app.check_ready()` for a trigger: the stage mappings read, and the fields checked
    unless a passed check of the same fields is remembered; a check that passes is."""
    now = clock()
    if check_remembered(app, now):
        app.map_stages()
        return
    app.check_ready()
    try:
        remember_check(app, now)
    except Exception as exc:  # the check passed: the rescore goes on, the next start checks
        log.warning("setup check not kept", extra={"error": type(exc).__name__})


FEATURES_PROBED = "features_probed"
"""The `meta` entry of what feature probes found, per account (`connection_of`'s digest):
{<digest>: {<feature>: {"available": bool, "at": <epoch seconds>}}}."""


def probed_features(app: Leadscore) -> dict[str, Any]:
    """The features probes found, per account, as kept (an unreadable entry: none)."""
    with app.store.engine.connect() as connection:
        found = meta_value(connection, FEATURES_PROBED)
    try:
        kept = json.loads(found) if found is not None else {}
    except ValueError:
        return {}
    return kept if isinstance(kept, dict) else {}


def keep_feature(app: Leadscore, where: str, feature: str, available: bool, now: float) -> None:
    """Keep that `feature` was found (un)available on the account `where` as of `now`."""
    store = app.store
    with store.writing(), store.engine.begin() as connection:
        found = meta_value(connection, FEATURES_PROBED)
        try:
            kept = json.loads(found) if found is not None else {}
        except ValueError:
            kept = {}
        kept = kept if isinstance(kept, dict) else {}
        mine = kept.get(where)
        kept[where] = {**(mine if isinstance(mine, dict) else {}),
                       feature: {"available": available, "at": now}}  # fmt: skip
        set_meta(connection, FEATURES_PROBED, json.dumps(kept, sort_keys=True))


def recall_features(app: Leadscore, clock: Callable[[], float] = time.time) -> None:
    """Give each connector that probes features (HubSpot's events API, its forms scope)
    what a probe of its account found less than `CHECK_KEPT` seconds ago, so a cold
    trigger makes no probe call for them (nor imports what the call would), and keep what
    its own probes find, or a call finds changed, for the next start."""
    apis: list[tuple[str, Any]] = [(c.system, getattr(c, "api", None)) for c in app.connectors]
    probing = [(system, api) for system, api in apis if hasattr(api, "known_features")]
    if not probing:
        return
    now = clock()
    kept = probed_features(app)
    for system, api in probing:
        where = connection_of(app, system)
        known: dict[str, bool] = {}
        mine = kept.get(where)
        for feature, entry in (mine if isinstance(mine, dict) else {}).items():
            try:
                at, available = float(entry["at"]), entry["available"]
            except (ValueError, KeyError, TypeError):
                continue
            if 0.0 <= now - at < CHECK_KEPT and isinstance(available, bool):
                known[feature] = available

        def found(feature: str, available: bool, where: str = where) -> None:
            try:
                keep_feature(app, where, feature, available, clock())
            except Exception as exc:  # the answer stands; the next start probes again
                log.warning("feature probe not kept", extra={"error": type(exc).__name__})

        api.known_features(known, found)
