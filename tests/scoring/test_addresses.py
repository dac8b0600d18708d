"""The columnar address path (`scoring.addresses`) against the per-address functions it
replaces for large frames: the same normalized address, domain and free-mail flag for
every input."""

from __future__ import annotations

import dataclasses
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import frames
from scoring.addresses import (
    address_domains,
    arrow_text,
    ascii_normalized,
    joined,
    laid_out,
    normalized_text,
    text_domains,
)
from scoring.frames import CategoricalColumn, ContactFrame, TextCategories, free_email_domains
from scoring.records import WHITESPACE, emails_normalized, normalize_email

SPECIAL = [
    "Ann@Acme.io",
    " ann@acme.io",
    "ann@acme.io\n",
    "ann+news@acme.io",
    "a@b@c.io",
    "@acme.io",
    "ann@",
    "no-at-sign",
    "",
    "   ",
    "\x1c\x1d",  # separators Python strips and Arrow's ASCII whitespace does not know
    "\u3000x@Gmail.COM\u2029",
    "İ@x.io",  # Python lower-cases it to two characters
    "Σ@ΣΣ.io",  # final sigma
    "ß@STRASSE.de",
    "ann@gmail.com",
    "ANN@YAHOO.COM ",
    "x@\u00e9cole.fr",
    "e\u0301@x",
    "\x00@x",
]
ADDRESS = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=st.sampled_from("aB@.+ \t\n" + WHITESPACE[:12] + "İΣßé"), max_size=8),
    st.text(max_size=8),
)


@given(st.lists(st.one_of(st.none(), ADDRESS), max_size=30))
def test_the_columnar_normalization_is_normalize_email(values: list[str | None]) -> None:
    text = arrow_text(values)  # type: ignore[arg-type]

    assert text is not None
    assert normalized_text(text).to_pylist() == [normalize_email(v) for v in values]


def test_text_arrow_cannot_hold_is_refused() -> None:
    assert arrow_text(["ok@x.io", "\ud800@x.io"]) is None
    assert joined(["ok@x.io", "\ud800@x.io"]) is None
    assert joined(["ok@x.io", "a\x00b@x.io"]) is None
    assert joined(["ok@x.io", 3]) is None  # type: ignore[list-item]


@given(st.lists(ADDRESS, max_size=30))
def test_ascii_addresses_are_found_normalized_exactly_when_each_one_is(
    addresses: list[str],
) -> None:
    texts = joined(addresses)
    if texts is None:
        assert any("\x00" in a for a in addresses)
        return
    verdict = ascii_normalized(texts)

    if all(a.isascii() for a in addresses):
        assert verdict == all(normalize_email(a) == a for a in addresses)
    else:
        assert verdict is None


@given(st.lists(ADDRESS, min_size=1, max_size=30))
def test_each_domain_is_what_follows_the_last_at(addresses: list[str]) -> None:
    texts = joined(addresses)
    if texts is None:
        return
    free = free_email_domains()

    found = address_domains(texts, free)

    domains = [a.rpartition("@")[2] for a in addresses]
    present = ["@" in a and bool(d) for a, d in zip(addresses, domains, strict=True)]
    assert found.present.tolist() == present
    kept = [d if p else "" for d, p in zip(domains, present, strict=True)]
    assert [d if p else "" for d, p in zip(found.domains.tolist(), present, strict=True)] == kept
    assert [f for f, p in zip(found.free.tolist(), present, strict=True) if p] == [
        d in free for d, p in zip(domains, present, strict=True) if p
    ]
    if found.ascii:
        assert all(d.isascii() for d in kept)


@given(st.lists(ADDRESS, min_size=1, max_size=30), st.integers(0, 3))
def test_addresses_as_arrow_lays_them_out_have_the_domains_joined_ones_have(
    addresses: list[str], skipped: int
) -> None:
    """`laid_out` (an Arrow array's own bytes, no separator; a slice of one too) gives the
    domains, and the verdict on normalized ASCII, that `joined` gives."""
    import pyarrow as pa

    texts = joined(addresses)
    if texts is None:
        return
    free = free_email_domains()
    array = pa.array(["x@y.io"] * skipped + addresses, pa.string()).slice(skipped)
    laid = laid_out(array)

    expected, found = address_domains(texts, free), address_domains(laid, free)

    assert found.present.tolist() == expected.present.tolist()
    assert found.codes.tolist() == expected.codes.tolist()
    assert found.distinct.tolist() == expected.distinct.tolist()
    assert found.distinct_free.tolist() == expected.distinct_free.tolist()
    assert found.ascii == expected.ascii
    assert ascii_normalized(laid) == ascii_normalized(texts)


@given(st.lists(ADDRESS, min_size=1, max_size=30))
def test_a_dictionary_finds_the_domains_arrow_finds(addresses: list[str]) -> None:
    texts = joined(addresses)
    if texts is None:
        return
    free = free_email_domains()

    arrow, python = address_domains(texts, free), text_domains(addresses, texts, free)

    assert python.present.tolist() == arrow.present.tolist()
    assert python.codes.tolist() == arrow.codes.tolist()
    assert python.distinct.tolist() == arrow.distinct.tolist()
    assert python.distinct_free.tolist() == arrow.distinct_free.tolist()
    assert python.ascii == arrow.ascii


def _rows(frame: ContactFrame, name: str) -> list[str | None]:
    column = frame.columns[name]
    assert isinstance(column, CategoricalColumn)
    return [column.value(row) for row in range(len(frame))]


def _both_ways(
    ids: list[str], emails: tuple[np.ndarray, np.ndarray] | list[str | None], normalized: bool
) -> tuple[ContactFrame, ContactFrame]:
    with mock.patch.object(frames, "BULK", 10**12):
        slow = ContactFrame.from_arrays(ids, emails, normalized=normalized)  # type: ignore[arg-type]
    with mock.patch.object(frames, "BULK", 1):
        fast = ContactFrame.from_arrays(ids, emails, normalized=normalized)  # type: ignore[arg-type]
    return slow, fast


@given(st.lists(st.one_of(st.none(), ADDRESS), min_size=1, max_size=40))
def test_a_large_frame_derives_what_a_small_one_does(cells: list[str | None]) -> None:
    distinct = list(dict.fromkeys(c for c in cells if c is not None))
    categories = np.empty(len(distinct), dtype=object)
    categories[:] = distinct
    index = {c: i for i, c in enumerate(distinct)}
    codes = np.array([index[c] if c is not None else -1 for c in cells], dtype=np.int32)
    ids = [f"c{i}" for i in range(len(cells))]

    slow, fast = _both_ways(ids, (codes, categories), normalized=False)

    for name in ("email", "email_domain", "email_free"):
        assert _rows(fast, name) == _rows(slow, name), name
    fast_domains = fast.columns["email_domain"]
    assert isinstance(fast_domains, CategoricalColumn)
    if fast_domains.folded:  # conditions skip case-folding: every domain must be folded
        rows = [v for v in _rows(fast, "email_domain") if v is not None]
        assert all(v.casefold() == v for v in rows)


@given(st.lists(ADDRESS, min_size=1, max_size=40))
def test_addresses_given_as_normalized_are_taken_as_they_are(addresses: list[str]) -> None:
    clean = list(dict.fromkeys(n for a in addresses if (n := normalize_email(a)) is not None))
    if not clean:
        return
    categories = np.empty(len(clean), dtype=object)
    categories[:] = clean
    codes = np.arange(len(clean), dtype=np.int32)
    ids = [f"c{i}" for i in range(len(clean))]

    slow, fast = _both_ways(ids, (codes, categories), normalized=True)

    assert emails_normalized(clean)
    for name in ("email", "email_domain", "email_free"):
        assert _rows(fast, name) == _rows(slow, name), name


@given(st.lists(ADDRESS, min_size=1, max_size=40), st.booleans())
def test_addresses_held_as_arrow_text_derive_what_python_strings_do(
    addresses: list[str], many: bool
) -> None:
    """Normalized addresses given as Arrow text (`TextCategories`, a file's) make the
    columns that the same addresses as Python strings make, their domains found in the
    text's bytes where there are many, and keep their categories unmade until read."""
    import pyarrow as pa

    clean = list(dict.fromkeys(n for a in addresses if (n := normalize_email(a)) is not None))
    if not clean or any("\x00" in a for a in clean):
        return
    categories = np.empty(len(clean), dtype=object)
    categories[:] = clean
    codes = np.array([*range(len(clean)), -1], dtype=np.int32)
    ids = [f"c{i}" for i in range(len(codes))]
    held = TextCategories(codes, pa.array(clean, pa.string()))

    with mock.patch.object(frames, "BULK", 1 if many else 10**12):
        expected = ContactFrame.from_arrays(ids, (codes, categories), normalized=True)
        found = ContactFrame.from_arrays(ids, held, normalized=True)

    if many:
        assert found.columns["email"] is held
        assert "categories" not in held.__dict__  # (not made into Python strings)
        assert held.held_categories.to_pylist() == clean
    for name in ("email", "email_domain", "email_free"):
        assert _rows(found, name) == _rows(expected, name), name
    assert held.categories.tolist() == clean
    again = dataclasses.replace(held, codes=codes[::-1].copy())  # (its categories made)
    assert isinstance(again, TextCategories)
    assert again.held_categories.to_pylist() == clean == again.categories.tolist()


@pytest.mark.parametrize("size", [0, 1, 5])
def test_frames_of_few_addresses_take_the_per_address_path(size: int) -> None:
    emails = [f"Person{i}@Gmail.com " for i in range(size)]
    with mock.patch.object(frames, "domains_of", side_effect=AssertionError):
        frame = ContactFrame.from_columns([f"c{i}" for i in range(size)], emails)

    assert _rows(frame, "email_free") == ["true"] * size
