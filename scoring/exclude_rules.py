"""The rule file's `exclude` section: the contacts who must not be scored (an objection
to profiling), by conditions on the contact or by address.

A contact is excluded when `contact` holds (every field, as in a rule), when any entry
of `any` holds, or when its address is listed in `emails` or in the file
`emails_file` names (one address a line, `#` comments, relative to the rule file). The
list file is read by the loader (`read_listed`), which puts its addresses into `emails`,
so that a rule set once loaded carries every address it excludes and a change of the
list changes the rule set (a sync then looks at everyone again).

Apart from `scoring.exclusion` (the mask on columns) so that validating a rule file
loads no numpy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Self

from pydantic import Field, PrivateAttr, field_validator, model_validator

from scoring.conditions import Conditions
from scoring.errors import Problem, RuleFileError
from scoring.records import normalize_email
from scoring.ruletypes import LocatedError, Strict

MAX_LISTED = 1_000_000
"""The most addresses an exclusion lists, in the file and the rule file together."""
MAX_LIST_BYTES = 100_000_000
"""The largest list file read (a million long addresses)."""


def address_problem(text: str) -> str | None:
    """Why `text` is not an address an exclusion can list (None when it is one)."""
    address = normalize_email(text) or ""
    if not address:
        return "an empty address"
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in address):
        return f"{text.strip()[:80]!r} is not an email address"
    return None


class Exclusion(Strict):
    """Who is never scored: their fields are cleared once, and they are left out of
    reports, backtests and calibration."""

    contact: Conditions | None = Field(
        None,
        description="Conditions on the contact (every field must hold), e.g. "
        "{marketing_opt_out: true}: a contact they hold for is excluded.",
    )
    any: list[Conditions] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Further conditions, each on its own: a contact any of them holds "
        "for is excluded.",
    )
    emails: list[str] = Field(
        default_factory=list,
        max_length=MAX_LISTED,
        description="Addresses excluded (case and surrounding spaces aside).",
    )
    emails_file: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        description="A text file of addresses excluded, one a line (# starts a comment), "
        "relative to the rule file.",
    )

    _file: str | None = PrivateAttr(None)
    """The list file the loader read into `emails` (`read_listed`)."""
    _written: list[str] | None = PrivateAttr(None)
    """The addresses the rule file itself gave, before the list file's were added."""

    @field_validator("emails")
    @classmethod
    def _addresses(cls, emails: list[str]) -> list[str]:
        problems = [
            LocatedError((index,), problem)
            for index, text in enumerate(emails)
            if (problem := address_problem(text)) is not None
        ]
        if problems:
            raise LocatedError(problems[0].path, str(problems[0]), others=problems[1:10])
        return list(dict.fromkeys(normalize_email(text) or "" for text in emails))

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.contact is None and not self.any and not self.emails and not self.emails_file:
            raise ValueError(
                "`exclude` names nobody: give `contact`, `any`, `emails` or `emails_file`"
            )
        if self.contact is not None and not self.contact:
            raise LocatedError(("contact",), "empty conditions would exclude every contact")
        for index, conditions in enumerate(self.any or []):
            if not conditions:
                message = "empty conditions would exclude every contact"
                raise LocatedError(("any", index), message)
        return self

    @property
    def conditions(self) -> list[Conditions]:
        """Each set of conditions that excludes a contact on its own."""
        return [*([self.contact] if self.contact is not None else []), *(self.any or [])]

    def as_written(self) -> dict[str, Any]:
        """The section as its rule file gives it (the list file named, not copied out), for
        a file written from these rules (`leadscore calibrate`)."""
        data: dict[str, Any] = self.model_dump(mode="json", exclude_defaults=True)
        if self._file is not None:
            data = {k: v for k, v in data.items() if k != "emails"}
            data |= {"emails": self._written} if self._written else {}
            data["emails_file"] = self._file
        return data

    def contact_fields(self) -> list[str]:
        """The contact attributes the exclusion reads (the address aside)."""
        return list(dict.fromkeys(name for c in self.conditions for name in c))


def joined_exclusions(*exclusions: Exclusion | None) -> Exclusion | None:
    """One exclusion naming everyone any of these names (None when none is given)."""
    given = [e for e in exclusions if e is not None]
    if len(given) < 2:
        return given[0] if given else None
    conditions = [c for e in given for c in e.conditions]
    emails = list(dict.fromkeys(a for e in given for a in e.emails))
    # the parts are validated already (and a condition's shorthand would not read back)
    return Exclusion.model_construct(any=conditions or None, emails=emails)


COMMENT = re.compile(r"(?:^|\s)#.*")
"""A comment: from a `#` at the start of a line or after whitespace to its end (so
`a#b@x.io`, an address, is not cut)."""


def address_lines(raw: bytes) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The entries of a list of addresses, one a line (blank lines and comments skipped),
    with their line numbers, and the lines that are not UTF-8 text (line, reason). The
    entries are stripped, not yet checked or normalized. One reader for `forget
    --from-file` and `exclude.emails_file`."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    entries: list[tuple[int, str]] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append((number, f"not UTF-8 text (byte {exc.start} of the line)"))
            continue
        entry = COMMENT.sub("", text).strip()
        if entry:
            entries.append((number, entry))
    return entries, bad


def read_listed(
    exclusion: Exclusion, base: Path, rule_file: str, line: int | None = None
) -> Exclusion:
    """The exclusion with the addresses of its `emails_file` (relative to `base`, the
    rule file's folder) added to `emails`; raises `RuleFileError` naming the list file
    and line of every bad address, or the rule file's field (at `line`) when the list
    cannot be read."""
    if exclusion.emails_file is None:
        return exclusion
    path = base / exclusion.emails_file
    field = "exclude.emails_file"
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_LIST_BYTES + 1)
        if len(raw) > MAX_LIST_BYTES:
            message = f"{path}: larger than {MAX_LIST_BYTES:,} bytes"
            raise RuleFileError([Problem(rule_file, line, field, message)])
    except FileNotFoundError:
        raise RuleFileError([Problem(rule_file, line, field, f"{path}: file not found")]) from None
    except OSError as exc:
        message = f"{path}: cannot read: {exc.strerror}"
        raise RuleFileError([Problem(rule_file, line, field, message)]) from None
    listed: list[str] = []
    entries, bad = address_lines(raw)
    problems = [Problem(str(path), number, "", reason) for number, reason in bad]
    for number, entry in entries:
        problem = address_problem(entry)
        if problem is not None:
            problems.append(Problem(str(path), number, "", problem))
        listed.append(entry)
    if problems:
        raise RuleFileError(problems[:20])
    emails = list(dict.fromkeys([*exclusion.emails, *(e.strip().lower() for e in listed)]))
    if len(emails) > MAX_LISTED:
        message = f"{path}: more than {MAX_LISTED:,} addresses"
        raise RuleFileError([Problem(rule_file, line, field, message)])
    read = exclusion.model_copy(update={"emails": emails, "emails_file": None})
    # named by its whole path: a file written from these rules may lie elsewhere
    read._file, read._written = str(path.resolve()), list(exclusion.emails)
    return read
