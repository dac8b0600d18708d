"""Columnar frames of contacts and activities: the engine's only input shape.

A frame holds one numpy array per field. Text fields are categorical
(integer codes into a table of distinct values), so that a condition is
evaluated once per distinct value and then spread to every row; numbers are
float64 with NaN for missing. A batch of one and a batch of a million go
through exactly the same arrays and the same code.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.addresses import (
    BULK,
    Domains,
    address_domains,
    arrow_text,
    ascii_normalized,
    domains_of,
    joined,
    laid_out,
    normalized_text,
)
from scoring.records import (
    TYPE_CODES,
    Activity,
    Contact,
    emails_normalized,
    normalize_email,
    normalize_emails,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

DERIVED_CONTACT_FIELDS = ("email", "email_domain", "email_free")


@cache
def free_email_domains() -> frozenset[str]:
    """The shipped list of free-mail and consumer ISP domains."""
    text = resources.files("scoring").joinpath("data/free_email_domains.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def format_number(value: float) -> str:
    """Text of a number as a person would write it: 50, not 50.0."""
    if math.isfinite(value) and value == int(value):
        return str(int(value))
    return repr(value)


def is_missing(value: Any) -> bool:
    """Whether a raw cell counts as absent: None, NaN, or blank text."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


@dataclass(frozen=True, eq=False)
class CategoricalColumn:
    """A text field: codes[i] indexes categories, -1 where the value is missing."""

    codes: IntArray
    categories: ObjectArray
    folded: bool = False
    """Every category is text that case-folding leaves as it is (conditions need not fold)."""

    def __len__(self) -> int:
        return len(self.codes)

    def value(self, row: int) -> str | None:
        code = int(self.codes[row])
        return None if code < 0 else str(self.categories[code])

    @property
    def held_categories(self) -> Any:
        """The categories as the column holds them (an Arrow array: `TextCategories`)."""
        return self.categories


class TextCategories(CategoricalColumn):
    """A `CategoricalColumn` whose categories are an Arrow text array (`text`, distinct,
    no nulls), made into Python strings only when first read: a file's million distinct
    addresses are scored, and their domains found in `text`'s bytes, without them."""

    text: Any

    def __init__(self, codes: IntArray, text: Any = None, folded: bool = False,
                 categories: ObjectArray | None = None) -> None:  # fmt: skip
        object.__setattr__(self, "codes", codes)
        object.__setattr__(self, "folded", folded)
        if categories is not None:  # (made already: `dataclasses.replace` gives them)
            self.__dict__["categories"] = categories
            text = text if text is not None else arrow_text(categories.tolist())
        object.__setattr__(self, "text", text)

    def __getattr__(self, name: str) -> Any:
        if name != "categories":  # (only an attribute not set yet comes here)
            raise AttributeError(name)
        categories = np.empty(len(self.text), dtype=object)
        categories[:] = self.text.to_pylist()
        self.__dict__["categories"] = categories
        return categories

    @property
    def held_categories(self) -> Any:
        return self.text


@dataclass(frozen=True, eq=False)
class NumericColumn:
    """A numeric field, NaN where the value is missing."""

    values: FloatArray

    def __len__(self) -> int:
        return len(self.values)

    def value(self, row: int) -> float | None:
        number = float(self.values[row])
        return None if math.isnan(number) else number


Column = CategoricalColumn | NumericColumn


def factorize(values: Iterable[str | None]) -> CategoricalColumn:
    """Categorical column from text values, categories in order of first appearance.

    The distinct values are found by a dict built at C speed, not a Python step per
    value; when every value is present and distinct (addresses, ids), the codes are
    simply 0, 1, 2, ...
    """
    cells = values if isinstance(values, list) else list(values)
    distinct = dict.fromkeys(cells)
    distinct.pop(None, None)
    categories = np.empty(len(distinct), dtype=object)
    categories[:] = list(distinct)
    if len(distinct) == len(cells):
        return CategoricalColumn(np.arange(len(cells), dtype=np.int32), categories)
    code_of: dict[str | None, int] = dict(zip(distinct, range(len(distinct)), strict=True))
    code_of[None] = -1
    codes = np.fromiter(map(code_of.__getitem__, cells), dtype=np.int32, count=len(cells))
    return CategoricalColumn(codes, categories)


def column_from_values(values: Sequence[Any]) -> Column:
    """The column for raw cells: numeric when every present cell is a number."""
    text = _text_column(values)
    if text is not None:
        return text
    present = [v for v in values if not is_missing(v)]
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        array = np.array([_finite_or_nan(v) for v in values], dtype=np.float64)
        return NumericColumn(array)
    return factorize(None if is_missing(v) else _as_text(v) for v in values)


def _finite_or_nan(value: Any) -> float:
    """A number cell as a float, NaN (missing) when absent, infinite or beyond a float."""
    try:
        number = math.nan if is_missing(value) else float(value)
    except OverflowError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _text_column(values: Sequence[Any]) -> CategoricalColumn | None:
    """The column of cells that are all text or None, each distinct cell looked at once
    (most columns repeat a few values: a URL, a campaign, an outcome); None otherwise.
    Only text and None: a text never equals a number, so no two cells share a key."""
    try:
        distinct = dict.fromkeys(values)
    except TypeError:  # an unhashable cell (a list): the general path
        return None
    if not all(v is None or type(v) is str for v in distinct):
        return None
    categories: dict[str, int] = {}
    code_of: dict[str | None, int] = {}
    for value in distinct:
        text = None if value is None else value.strip()
        code_of[value] = categories.setdefault(text, len(categories)) if text else -1
    labels = np.empty(len(categories), dtype=object)
    labels[:] = list(categories)
    codes = np.array([code_of[v] for v in values], dtype=np.int32)
    return CategoricalColumn(codes, labels)


PlainColumn = (
    tuple[npt.NDArray[np.integer[Any]], ObjectArray] | npt.NDArray[Any] | CategoricalColumn
)
"""A field as plain numpy arrays: `(codes, categories)` for text (codes -1 where missing),
a numeric array for numbers (NaN where missing), or an object array of raw cells; or a
text column made already (`TextCategories`)."""


def _plain_column(values: PlainColumn) -> Column:
    if isinstance(values, CategoricalColumn):
        return values
    if isinstance(values, tuple):
        codes, categories = values
        return CategoricalColumn(codes.astype(np.int32, copy=False), categories)
    if values.dtype.kind in "iuf":
        return NumericColumn(values.astype(np.float64, copy=False))
    return column_from_values(values.tolist())


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(float(value))
    return str(value).strip()


def _derive_email_columns(
    emails: CategoricalColumn, texts: list[str] | None = None
) -> dict[str, Column]:
    """`email_domain` and `email_free` from the addresses.

    The domain column has one category per address (the address's domain), not one per
    distinct domain: finding the distinct domains of a million addresses costs more than
    the few conditions that read them. An address without a domain gets a category (the
    address itself) that no row's code points at.
    """
    free = free_email_domains()
    if texts is None:  # the addresses as text, unless the caller has them already
        texts = list(map(str, emails.categories.tolist()))
    # map over C methods, not a comprehension: a third of the time at a million addresses
    domains = list(map(itemgetter(2), map(str.rpartition, texts, repeat("@"))))
    size = len(texts)
    has_at = np.fromiter(map(operator.contains, texts, repeat("@")), dtype=bool, count=size)
    has_domain = has_at & np.fromiter(map(bool, domains), dtype=bool, count=size)
    is_free = np.fromiter(map(free.__contains__, domains), dtype=bool, count=size)
    categories = np.empty(size, dtype=object)
    categories[:] = domains
    codes = emails.codes
    present = np.append(has_domain, False)[codes]
    return {
        "email": emails,
        # lower-cased ASCII (the addresses are normalized): case-folding leaves it alone
        "email_domain": CategoricalColumn(
            np.where(present, codes, np.int32(-1)), categories, all(map(str.isascii, domains))
        ),
        "email_free": CategoricalColumn(
            np.where(present, np.append(is_free, False)[codes].astype(np.int32), np.int32(-1)),
            np.array(["false", "true"], dtype=object),
        ),
    }


def _normalized_emails(emails: CategoricalColumn) -> tuple[CategoricalColumn, list[str] | None]:
    """The column with its addresses trimmed and lower-cased (merging those that then match).

    Addresses that are all already in that form are kept as they are, codes and all
    (a row's address is the same either way), without looking for matches among them;
    their text is then returned too, for deriving the domains.
    """
    original = emails.categories.tolist()
    given = list(map(str, original))
    if given == original and emails_normalized(given):
        return emails, given
    merged = factorize(normalize_emails(given))
    remap = np.append(merged.codes, np.int32(-1))
    return CategoricalColumn(remap[emails.codes].astype(np.int32), merged.categories), None


def _bulk_email_columns(emails: CategoricalColumn, normalized: bool) -> dict[str, Column] | None:
    """`email`, `email_domain` and `email_free` on whole columns (`scoring.addresses`), for
    many distinct addresses that are all text; None otherwise (the per-address path).
    Here the domain column has one category per distinct domain, which Arrow finds at C
    speed: the accounts' keys and the domain conditions then read each domain once.
    Normalized `TextCategories` have their domains found in their text's bytes, and keep
    their categories unmade."""
    if isinstance(emails, TextCategories) and normalized:
        if len(emails.text) < BULK:
            return None
        return _email_columns(emails, address_domains(laid_out(emails.text), free_email_domains()))
    if len(emails.categories) < BULK:
        return None
    codes, categories = emails.codes, emails.categories
    addresses = categories.tolist()
    texts = joined(addresses)
    if texts is None:
        return None
    if not normalized and not ascii_normalized(texts) and not emails_normalized(addresses):
        import pyarrow.compute as pc

        if (text := arrow_text(addresses)) is None:
            return None
        merged = pc.dictionary_encode(normalized_text(text))  # addresses that now match: one
        remap = merged.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        codes = np.append(remap.astype(np.int32), np.int32(-1))[codes]
        categories = np.asarray(merged.dictionary.to_numpy(zero_copy_only=False), dtype=object)
        addresses = categories.tolist()
        if (texts := joined(addresses)) is None:
            return None
    found = domains_of(addresses, texts, free_email_domains())
    return _email_columns(CategoricalColumn(codes.astype(np.int32, copy=False), categories), found)


def _email_columns(emails: CategoricalColumn, found: Domains) -> dict[str, Column]:
    """The email columns of normalized addresses whose distinct values' domains are
    `found`."""
    codes = emails.codes
    present = np.append(found.present, False)[codes]
    domain = np.append(found.codes, np.int32(-1))[codes]  # each distinct domain one category
    return {
        "email": emails,
        "email_domain": CategoricalColumn(
            np.where(present, domain, np.int32(-1)), found.distinct, found.ascii
        ),
        "email_free": CategoricalColumn(
            np.where(present, np.append(found.distinct_free, False)[domain].astype(np.int32), -1),
            np.array(["false", "true"], dtype=object),
        ),
    }


@dataclass(frozen=True, eq=False)
class SourceRecords:
    """The records a frame's contacts have in the systems that hold them, each with its
    own values (its contact's merged ones where it holds none): a contact's columns merge
    its records' (one system's value standing), and `exclude` reads each record's, since
    an objection recorded in any system counts."""

    owners: IntArray
    """The contact row of each record."""
    columns: Mapping[str, Column] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.owners)


@dataclass(frozen=True, eq=False)
class ContactFrame:
    """Contacts as columns; `email`, `email_domain` and `email_free` are derived."""

    ids: ObjectArray
    columns: Mapping[str, Column] = field(default_factory=dict)
    records: SourceRecords | None = None
    """Their records' own values where a contact merges several (`scoring.exclusion`)."""

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def emails(self) -> CategoricalColumn:
        column = self.columns["email"]
        assert isinstance(column, CategoricalColumn)
        return column

    def column(self, name: str) -> Column | None:
        return self.columns.get(name)

    @classmethod
    def from_columns(
        cls,
        ids: Sequence[str] | ObjectArray,
        emails: Sequence[str | None] | CategoricalColumn,
        attributes: Mapping[str, Column] | None = None,
        *,
        normalized: bool = False,
    ) -> ContactFrame:
        """A frame from ready columns; emails are normalized (unless `normalized` says a
        categorical column's distinct addresses already are) and their domains derived."""
        if isinstance(ids, np.ndarray) and ids.dtype == object and ids.ndim == 1:
            id_array = ids  # shared, not copied
        else:
            id_array = np.empty(len(ids), dtype=object)
            id_array[:] = list(ids)
        if not isinstance(emails, CategoricalColumn):
            emails = factorize(normalize_email(e) for e in emails)
            normalized = True
        derived = _bulk_email_columns(emails, normalized)
        if derived is None:
            email_column, texts = (emails, None) if normalized else _normalized_emails(emails)
            derived = _derive_email_columns(email_column, texts)
        columns: dict[str, Column] = dict(attributes or {})
        for name in DERIVED_CONTACT_FIELDS:
            columns.pop(name, None)
        columns.update(derived)
        for name, column in columns.items():
            if len(column) != len(id_array):
                raise ValueError(
                    f"column {name!r} has {len(column)} rows, expected {len(id_array)}"
                )
        return cls(id_array, columns)

    @classmethod
    def from_arrays(
        cls,
        ids: Sequence[str] | ObjectArray,
        emails: PlainColumn,
        attributes: Mapping[str, PlainColumn] | None = None,
        *,
        normalized: bool = False,
    ) -> ContactFrame:
        """`from_columns` for plain arrays (see `PlainColumn`); arrays are shared, not copied.
        `normalized`: the distinct addresses are `normalize_email`'s already."""
        email_column = _plain_column(emails)
        if not isinstance(email_column, CategoricalColumn):
            raise TypeError("emails must be text: (codes, categories) or an object array")
        columns = {name: _plain_column(values) for name, values in (attributes or {}).items()}
        return cls.from_columns(ids, email_column, columns, normalized=normalized)

    @classmethod
    def from_records(cls, contacts: Sequence[Contact]) -> ContactFrame:
        names: dict[str, None] = {}
        for contact in contacts:
            names.update(dict.fromkeys(contact.attributes))
        attributes = {
            name: column_from_values([c.attributes.get(name) for c in contacts])
            for name in names
            if name not in DERIVED_CONTACT_FIELDS
        }
        return cls.from_columns([c.id for c in contacts], [c.email for c in contacts], attributes)


@dataclass(frozen=True, eq=False)
class ActivityFrame:
    """Activities as columns; `contact_rows` index the rows of a `ContactFrame`."""

    contact_rows: IntArray
    type_codes: npt.NDArray[np.int8]
    occurred_at: FloatArray
    """Seconds since the Unix epoch, UTC."""
    columns: Mapping[str, Column] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.contact_rows)

    def column(self, name: str) -> Column | None:
        return self.columns.get(name)

    @classmethod
    def from_arrays(
        cls,
        contact_rows: npt.NDArray[np.integer[Any]],
        type_codes: npt.NDArray[np.integer[Any]],
        occurred_at: npt.NDArray[np.floating[Any]],
        attributes: Mapping[str, PlainColumn] | None = None,
    ) -> ActivityFrame:
        """A frame from plain arrays: contact rows, `TYPE_CODES` codes, epoch seconds, and
        fields as `PlainColumn`s; arrays already of the frame's dtypes are shared, not copied."""
        columns = {name: _plain_column(values) for name, values in (attributes or {}).items()}
        for name, column in columns.items():
            if len(column) != len(contact_rows):
                raise ValueError(
                    f"column {name!r} has {len(column)} rows, expected {len(contact_rows)}"
                )
        return cls(
            contact_rows.astype(np.int32, copy=False),
            type_codes.astype(np.int8, copy=False),
            occurred_at.astype(np.float64, copy=False),
            columns,
        )

    @classmethod
    def from_records(
        cls, activities: Sequence[Activity], contact_ids: Sequence[str] | ObjectArray
    ) -> ActivityFrame:
        """Activities whose `contact_id` is among `contact_ids`; others are dropped."""
        row_of = {str(cid): row for row, cid in enumerate(contact_ids)}
        kept = [a for a in activities if a.contact_id in row_of]
        names: dict[str, None] = {}
        for activity in kept:
            names.update(dict.fromkeys(activity.attributes))
        return cls(
            np.array([row_of[a.contact_id] for a in kept], dtype=np.int32),
            np.array([TYPE_CODES[a.type] for a in kept], dtype=np.int8),
            np.array([_epoch(a.occurred_at) for a in kept], dtype=np.float64),
            {n: column_from_values([a.attributes.get(n) for a in kept]) for n in names},
        )


def _epoch(moment: datetime) -> float:
    return moment.timestamp()
