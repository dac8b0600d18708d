"""Mailchimp in the registry: how its merge fields are named, what they hold, how it is built.

Merge tags: Mailchimp's merge-fields guide
(https://mailchimp.com/developer/marketing/docs/merge-fields/) gives the types
(text, number, date, ...) and that a field is named by its tag, such as FNAME. It
states no length or character rule we could find; that a tag is at most 10
characters of upper-case letters, digits and underscores is what integrators
report (the Mailchimp app refuses longer tags; e.g.
https://chimpmatic.com/mailchimp-audience-fields-and-merge-tags), not a first-party
document. Text fields take 255 characters: also integrators' word, not found in
Mailchimp's reference. We keep to both, and tags start with a letter.

Names: `(prefix, key)` -> `LS_SCORE`, `LS_GRADE`, `LS_STAGE`, `LS_DQ`, `LS_REASONS`,
`LS_AT` (the default prefix `leadscore_` is `LS`; another prefix gives its first two
letters or digits; the shadow rules' prefix `leadscore_shadow_` is `LSS`: `LSS_SCORE`,
`LSS_GRADE`, `LSS_STAGE`, see `prefix_tag`; an extra model's head is its own three
characters, `ENT_SCORE`, ..., `ENT_WHY` for its reasons, `sync.models`). A dimension
keeps its name when it is lower-case letters, digits and underscores and shorter than
the room left (`LS_FIT`); a longer word of letters alone keeps its first letters,
filling the room (`LS_ACTIVIT`, `LS_ENGAGEM`); any other is its first letters and a
5-character digest, the first of them a digit, filling the room exactly (`LS_AC4K9Z2`).
So fixed names (no digit, none taken by a word), kept names (shorter than the room),
words (letters only, the full room) and digested names (a digit at one place, the full
room) never meet; two words meet when they begin alike ("activity", "activities"), and
two digested names when 5 characters of two SHA-1 digests do (about 1 in 17 million per
pair): the field map refuses a rule file whose fields would share a name, naming both
(`sync.fields.FieldMap.for_rules`).

Values: numbers are number fields; the scoring time a date field (the UTC day, so
that marketers can segment on it: a date field holds no time of day), written as
MM/DD/YYYY, the format `setup` gives the field (a value in the field's format is what
integrators report Mailchimp takes, e.g.
https://nodeer.space/questions/formatting-the-date-type-parameter-for-mergefields-in-the-mailchimp-apilists);
disqualified is "true"/"false" text, the grade and stage text. Reasons are cut to
255 characters by the sync, which drops reasons (summing them into "+N from M more")
rather than cutting one, so they still add up (see `sync.fields.written_reasons`).
Our stage is also a tag
`leadscore: <stage>` (not ordered); members are written by their subscriber hash
(the MD5 of the address), a few call by call, more through `/batches`
(`connectors.mailchimp.write`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.mailchimp.attributes import MAILCHIMP_ATTRIBUTES
from connectors.mailchimp.settings import MailchimpSettings
from connectors.protocol import Capabilities, Held
from connectors.system import BuildOptions, System
from scoring.records import ensure_utc

if TYPE_CHECKING:
    from connectors.protocol import Connector

MAX_TAG = 10
FIXED = {
    "score": "SCORE",
    "grade": "GRADE",
    "stage": "STAGE",
    "disqualified": "DQ",
    "reasons": "REASONS",
    "scored_at": "AT",
}
FIXED_SHORT = {"reasons": "WHY"}
"""The fixed name of a key where the head leaves no room for `FIXED`'s (a model's)."""
MODEL_HEAD = re.compile(r"[A-Z][A-Z0-9]{2}_")
"""An extra model's head, given as its prefix (`prefix_tag`)."""
STAGE_TAG = "leadscore: "
"""Our stage as a member tag: `leadscore: <stage>`."""
DIGEST = 5
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def prefix_tag(prefix: str) -> str:
    """The head of our merge tags: `LS_` for the default prefix, else its first two
    letters or digits (a letter first), or nothing when the prefix has none. A shadow
    prefix (one holding SHADOW: `sync.shadow_write`) adds an `S` to the head of the rest
    (`LSS_` for `leadscore_shadow_`, `SHS_` for `shadow_`): three characters, so that no
    shadow tag is taken for the live stage (`connectors.mailchimp.write.STAGE_FIELD`).
    A prefix that is a head already, three upper-case letters or digits (a letter first)
    and `_`, is kept: an extra model's (`sync.models`; the settings' prefixes are lower
    case), of three characters for the same reason."""
    if MODEL_HEAD.fullmatch(prefix):
        return prefix
    cleaned = re.sub(r"[^A-Z0-9]", "", prefix.upper())
    if "SHADOW" in cleaned:
        rest = prefix_tag(prefix.upper().replace("SHADOW", "", 1))
        return (rest[:2] or "SH") + "S_"
    if not cleaned:
        return ""
    if cleaned == "LEADSCORE":
        return "LS_"
    if not cleaned[0].isalpha():
        cleaned = "L" + cleaned
    return cleaned[:2] + "_"


def _digest(key: str, size: int) -> str:
    """`size` characters of the key's SHA-1, the first a digit."""
    number = int.from_bytes(hashlib.sha1(key.encode()).digest(), "big")
    out = [_ALPHABET[number % 10]]
    number //= 10
    for _ in range(size - 1):
        out.append(_ALPHABET[number % 36])
        number //= 36
    return "".join(out)


def merge_tag(prefix: str, key: str) -> str:
    """The merge tag of one value leadscore writes (see the module's docstring)."""
    head = prefix_tag(prefix)
    room = MAX_TAG - len(head)
    if key in FIXED:
        fixed = FIXED[key] if len(FIXED[key]) <= room else FIXED_SHORT.get(key, FIXED[key])
        return head + fixed
    plain = key.upper()
    if re.fullmatch(r"[a-z][a-z0-9_]*", key) and len(plain) < room and plain not in FIXED.values():
        return head + plain
    if re.fullmatch(r"[a-z]+", key) and plain[:room] not in FIXED.values():
        return head + plain[:room]  # a word's first letters, filling the room: LS_ACTIVIT
    letters = re.sub(r"[^A-Z]", "", plain) or "D"
    return head + letters[: room - DIGEST] + _digest(key, DIGEST)


def stage_of_tags(tags: Any) -> str | None:
    """Our stage among a member's tag names, when exactly one says it."""
    names = tags if isinstance(tags, list | tuple) else []
    stages = {str(n)[len(STAGE_TAG) :] for n in names if str(n).startswith(STAGE_TAG)}
    return stages.pop() if len(stages) == 1 else None


def read_back(
    capabilities: Capabilities, attributes: Mapping[str, Any], names: Mapping[str, str]
) -> Held:
    """Our stage as the member holds it: the stage merge field we write, or else the one
    stage tag (`leadscore: <stage>`) a person or an earlier write left."""
    field = names.get("stage")
    value = attributes.get(field) if field else None
    if value in (None, ""):
        value = stage_of_tags(attributes.get("tags"))
    return Held(str(value) if value not in (None, "") else None, None)


def date_text(moment: datetime) -> str:
    """A moment as a Mailchimp date field takes it: the UTC day, in the field's format
    (MM/DD/YYYY, the format `setup` gives it)."""
    return ensure_utc(moment).strftime("%m/%d/%Y")


MAILCHIMP_CAPABILITIES = Capabilities(
    system="mailchimp",
    field_name=merge_tag,
    name_pattern=r"[A-Z][A-Z0-9_]*",
    max_name_length=MAX_TAG,
    max_text_length=255,
    kinds=frozenset({"number", "text", "datetime"}),
    stage_ordered=False,
    record_key="email",
    write_batch_size=500,
    moment_text=date_text,
    read_back=read_back,
    read_back_fields=("tags",),
    read_back_prefix=STAGE_TAG,
    activity_keys=("list_id",),
)


def build_mailchimp(settings: MailchimpSettings, options: BuildOptions) -> Connector:
    from connectors.mailchimp.connector import MailchimpConnector

    key, token = settings.api_key, settings.access_token
    return MailchimpConnector(
        api_key=key.get_secret_value() if key is not None else None,
        access_token=token.get_secret_value() if token is not None else None,
        server=settings.server,
        base_url=settings.base_url,
        timeout=settings.timeout,
        audiences=settings.audiences,
        tags=settings.tags,
        batch_write_above=settings.batch_write_above,
        attributes=options.attributes,
        clock=options.pace,
        seed=options.seed,
        history=options.history,
    )


MAILCHIMP_SYSTEM = System(
    "mailchimp",
    "Mailchimp",
    MailchimpSettings,
    MAILCHIMP_CAPABILITIES,
    build_mailchimp,
    MAILCHIMP_ATTRIBUTES,
)
