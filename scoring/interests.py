"""Interest scores on whole columns: each topic's points per contact, and the top interest.

A topic's patterns (`scoring.interest_rules`) are matched once per distinct value of an
activity field (a URL, a campaign, a form's name), then spread to every activity by its
code, as conditions are (`scoring.evaluate`). Each matching activity adds the topic's
points, halved every `half_life_days` since it happened, and the sum is clipped to the
topic's cap: one `np.bincount` per topic, whatever the batch size. An activity counts
once for a topic even when several of its fields match.

The top interest is the topic with the highest score rounded to two decimals (what
`leadscore score` writes out); a tie goes to the topic listed first in the rule file,
and a contact whose best topic has less than one whole point (`TOP_MIN`) has none.
Like every score, a contact's interests depend on its own activities only: a batch of
one gives what a batch of a million gives.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from scoring.explain import number, whole_points
from scoring.frames import (
    ActivityFrame,
    BoolArray,
    CategoricalColumn,
    Column,
    ContactFrame,
    FloatArray,
    IntArray,
)
from scoring.interest_rules import (
    INTEREST_SCORE,
    TAG_FIELD,
    TOP_INTEREST,
    Interests,
    Topic,
    glob_match,
    topic_column,
)
from scoring.records import TYPE_CODES, ActivityType

_DAY = 86_400.0
TOP_MIN = 0.5
"""The least score (rounded to two decimals) of a top interest: one whole point, so that
no top interest is written with 0 points."""
GLOB_TEXT = 2000
"""A pattern is matched against the first this many characters of a value (of a URL,
after its query string and fragment are taken off, `url_key`)."""


class Grouped(Protocol):
    """The usable activities of some types (`scoring.engine`): their rows in the frame,
    their contact rows and their ages (seconds before the contact's moment)."""

    @property
    def rows(self) -> npt.NDArray[np.intp]: ...
    @property
    def who(self) -> npt.NDArray[np.int32]: ...
    @property
    def ages(self) -> FloatArray: ...


def url_key(value: str) -> str:
    """A URL as URL patterns see it: without its query string and fragment, and without
    a trailing slash (`https://x.io/pricing/?utm=a#top` -> `https://x.io/pricing`)."""
    end = len(value)
    for mark in "?#":
        found = value.find(mark, 0, end)
        if found >= 0:
            end = found
    return value[:end].rstrip("/")


@lru_cache(maxsize=4096)
def matcher(patterns: tuple[str, ...], url: bool = False) -> Callable[[str], bool]:
    """Whether a value matches one of the globs, ignoring case (`glob_match`); a glob of
    `*` and text alone is matched by the string methods. With `url`, values are matched
    as `url_key` gives them, before the cut at `GLOB_TEXT`, and a pattern's trailing
    slash is ignored as theirs is. Made once per patterns (a trigger scores one person:
    the same topics on every call), it keeps its verdicts on the last values it read
    (up to `VERDICTS_SEEN`): a site's pages come back from one person to the next."""
    folded = [p.casefold() for p in patterns]
    if url:
        folded = [p.rstrip("/") or p for p in folded]
    plain = [p.split("*") for p in folded if "?" not in p]
    other = [p for p in folded if "?" in p]
    seen: dict[str, bool] = {}

    def test(value: str) -> bool:
        known = seen.get(value)
        if known is not None:
            return known
        text = (url_key(value) if url else value)[:GLOB_TEXT].casefold()
        found = any(_starred(parts, text) for parts in plain) or any(
            glob_match(p, text) for p in other
        )
        if len(seen) >= VERDICTS_SEEN:
            seen.clear()
        seen[value] = found
        return found

    return test


VERDICTS_SEEN = 4096


def _starred(parts: list[str], text: str) -> bool:
    """A glob without `?`, split at its stars, against a text: the first part starts it,
    the last ends it, and those between follow in order, each as early as it can."""
    if len(parts) == 1:
        return text == parts[0]
    first, last = parts[0], parts[-1]
    if len(text) < len(first) + len(last) or not text.startswith(first):
        return False
    at, end = len(first), len(text) - len(last)
    for middle in parts[1:-1]:
        found = text.find(middle, at, end)
        if found < 0:
            return False
        at = found + len(middle)
    return text.endswith(last)


def _matching(
    column: Column, test: Callable[[str], bool], rows: npt.NDArray[np.intp], codes: IntArray | None
) -> BoolArray:
    """Which of `rows` hold a value that passes `test`, each distinct value tested once;
    `codes`, for a text column, are its codes at `rows` (read once for every topic)."""
    if isinstance(column, CategoricalColumn):
        table = [test(str(v)) for v in column.categories.tolist()] + [False]
        return np.array(table, dtype=bool)[column.codes[rows] if codes is None else codes]
    from scoring.frames import format_number

    values = column.values[rows]
    distinct, inverse = np.unique(values, return_inverse=True)
    table = [not math.isnan(v) and test(format_number(v)) for v in distinct.tolist()]
    return np.array(table, dtype=bool)[inverse.reshape(-1)]


def tag_names(text: str) -> list[str]:
    """A contact's tags as its `tags` column holds them: a list pulled from a system
    (held as the list's text, `['newsletter', 'vip']`), or names separated by commas (a
    file's cell)."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            found = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            found = None
        if isinstance(found, list | tuple):
            return [str(t).strip() for t in found if str(t).strip()]
    return [t.strip() for t in text.split(",") if t.strip()]


def tagged(column: Column | None, patterns: tuple[str, ...], size: int) -> BoolArray:
    """Which contacts have a tag that matches one of the globs, each distinct value of the
    column read once."""
    if not isinstance(column, CategoricalColumn):
        return np.zeros(size, dtype=bool)
    test = matcher(patterns)
    table = [any(map(test, tag_names(str(v)))) for v in column.categories.tolist()] + [False]
    return np.array(table, dtype=bool)[column.codes]


def interest_scores(
    interests: Interests,
    activities: ActivityFrame,
    contacts: ContactFrame,
    group: Callable[[list[ActivityType]], Grouped],
) -> InterestScores:
    """Every topic's score and match count for `contacts`, from the usable activities
    `group` gives by type, and their `tags` column (`TAG_FIELD`): a contact with a
    matching tag is one match more, its points undecayed.

    Type by type (in the order of their codes, each type's rows in input order, so that a
    contact's sums run in one order whatever else is in the batch), every topic's matches
    are found at once: a bit per topic in one table per field and distinct value, read
    once per row; then each topic reads only the rows some topic matched."""
    size, tags = len(contacts), contacts.column(TAG_FIELD)
    topics = interests.topics
    scores = np.zeros((size, len(topics)), dtype=np.float64, order="F")
    counts = np.zeros((size, len(topics)), dtype=np.int32, order="F")
    tables = _topic_bits(topics, activities)
    matched: list[list[tuple[IntArray, FloatArray]]] = [[] for _ in topics]
    kinds = sorted({t for topic in topics for t in topic.types}, key=TYPE_CODES.__getitem__)
    for kind in kinds:
        readers = [i for i, topic in enumerate(topics) if kind in topic.types]
        found = group([kind])
        if not len(found.rows) or not tables:
            continue
        bits = tables[0].of(found.rows, readers)
        for field in tables[1:]:
            bits |= field.of(found.rows, readers)
        hit = np.flatnonzero(bits)
        bits, who, ages = bits[hit], found.who[hit], found.ages[hit]
        for index in readers:
            topic = topics[index]
            keep = (bits & bits.dtype.type(1 << index)) != 0
            if topic.window_days is not None:
                keep &= ages <= topic.window_days * _DAY
            matched[index].append((who[keep], ages[keep]))
    for index, topic in enumerate(topics):
        parts = matched[index]
        if _nothing_to_add(topic, parts):
            continue
        who = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int32)
        ages = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        counts[:, index] = np.bincount(who, minlength=size)
        if topic.half_life_days is None:
            points = counts[:, index] * topic.points
        else:
            weights = np.exp2(ages / -(topic.half_life_days * _DAY)) * topic.points
            points = np.bincount(who, weights=weights, minlength=size).astype(np.float64)
        if topic.tags:
            hit_tags = tagged(tags, tuple(topic.tags), size)
            counts[:, index] += hit_tags
            points = points + hit_tags * topic.points
        scores[:, index] = points if topic.cap is None else np.minimum(points, topic.cap)
    return InterestScores(interests, scores, counts)


def _nothing_to_add(topic: Topic, parts: list[tuple[IntArray, FloatArray]]) -> bool:
    """Whether a topic leaves every contact's score and count at the 0 they start at: no
    activity matched, no tags to read, and points and cap above 0 (as the schema has
    them: 0 matches times the points, capped, are then 0.0 and not -0.0). A person
    scored alone matches few topics, if any."""
    return (
        not topic.tags
        and all(not len(who) for who, _ in parts)
        and topic.points > 0
        and (topic.cap is None or topic.cap > 0)
    )


@dataclass(frozen=True, eq=False)
class _FieldBits:
    """An activity field some topics read: each reading topic's test, and for a text
    column a bit per topic for each of its distinct values (the last entry: missing)."""

    column: Column
    tests: dict[int, Callable[[str], bool]]
    table: npt.NDArray[np.unsignedinteger[Any]] | None
    kind: np.dtype[Any]
    """The narrowest unsigned integer with a bit per topic."""

    def of(
        self, rows: npt.NDArray[np.intp], readers: list[int]
    ) -> npt.NDArray[np.unsignedinteger[Any]]:
        """Per row of `rows`, a bit per topic of `readers` whose test its value passes."""
        reading = [i for i in readers if i in self.tests]
        if not reading:
            return np.zeros(len(rows), dtype=self.kind)
        if self.table is not None:
            assert isinstance(self.column, CategoricalColumn)
            bits = self.table[self.column.codes[rows]]
            if len(reading) < len(self.tests):  # a topic that reads other types
                bits &= self.kind.type(sum(1 << i for i in reading))
            return bits
        bits = np.zeros(len(rows), dtype=self.kind)
        for index in reading:
            passed = _matching(self.column, self.tests[index], rows, None)
            bits |= np.left_shift(passed, index, dtype=self.kind)
        return bits


def _topic_bits(topics: list[Topic], activities: ActivityFrame) -> list[_FieldBits]:
    """The activity fields topics read (those the frame has), each distinct value of a
    text column tested once per topic."""
    tests: dict[str, dict[int, Callable[[str], bool]]] = {}
    for index, topic in enumerate(topics):
        if not topic.types:
            continue
        for name, patterns in topic.patterns.items():
            tests.setdefault(name, {})[index] = matcher(patterns, name == "url")
    width = next(w for w in (8, 16, 32, 64) if len(topics) <= w)  # at most 50 topics
    kind = np.dtype(f"u{width // 8}")
    out = []
    for name, each in tests.items():
        column = activities.column(name)
        if column is None:
            continue
        table = None
        if isinstance(column, CategoricalColumn):
            values = list(map(str, column.categories.tolist()))
            table = np.zeros(len(values) + 1, dtype=kind)  # the last: a missing value
            for index, test in each.items():
                passed = np.fromiter(map(test, values), bool, len(values))
                table[:-1] |= np.left_shift(passed, index, dtype=kind)
        out.append(_FieldBits(column, each, table, kind))
    return out


@dataclass(frozen=True, eq=False)
class InterestScores:
    """Per contact and topic (in the rule file's order): the score after decay and cap,
    and how many activities matched."""

    interests: Interests
    scores: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int32]

    @cached_property
    def rounded(self) -> FloatArray:
        """The scores to two decimals, as written out and compared for the top interest."""
        return np.round(self.scores, 2) + 0.0  # -0.0 is 0.0

    @cached_property
    def top(self) -> npt.NDArray[np.int16]:
        """Each contact's top topic (its index), -1 when none has `TOP_MIN`; ties to the
        topic listed first (`argmax` takes the first of equal values)."""
        if not self.rounded.shape[0]:
            return np.zeros(0, dtype=np.int16)
        best = np.argmax(self.rounded, axis=1).astype(np.int16)
        held = self.rounded[np.arange(len(best)), best] >= TOP_MIN
        return np.where(held, best, np.int16(-1)).astype(np.int16)

    @cached_property
    def top_score(self) -> FloatArray:
        """The top topic's score (rounded to two decimals), 0 without one."""
        if not self.rounded.shape[1]:
            return np.zeros(len(self.top))
        picked = self.rounded[np.arange(len(self.top)), np.maximum(self.top, 0)]
        return np.where(self.top >= 0, picked, 0.0)

    def topic(self, row: int) -> Topic | None:
        code = int(self.top[row])
        return None if code < 0 else self.interests.topics[code]

    def reasons(self, row: int) -> list[str]:
        """Each topic the contact showed interest in, highest score first (ties in the
        file's order): `analytics 12 (×3, decayed from 15)`."""
        found = []
        for index, topic in enumerate(self.interests.topics):
            count = int(self.counts[row, index])
            if count:
                found.append((-float(self.rounded[row, index]), index, topic, count))
        return [  # the whole points of the two decimals written, as the fields hold them
            _describe(topic, -rounded, count)
            for rounded, index, topic, count in sorted(found, key=lambda f: (f[0], f[1]))
        ]

    def row(self, index: int) -> dict[str, Any]:
        """One contact's interest columns as plain values (`ScoreBatch.row`)."""
        topic = self.topic(index)
        record: dict[str, Any] = {
            TOP_INTEREST: None if topic is None else topic.id,
            INTEREST_SCORE: float(self.top_score[index]),
        }
        for column, each in enumerate(self.interests.topics):
            record[topic_column(each.id)] = float(self.rounded[index, column])
        return record

    def columns(self, order: npt.NDArray[np.integer[Any]]) -> dict[str, Any]:
        """The interest columns for the contacts of `order` (`ScoreBatch.columns`)."""
        ids = np.array([t.id for t in self.interests.topics], dtype=object)
        columns: dict[str, Any] = {
            TOP_INTEREST: (self.top[order].astype(np.int32), ids),
            INTEREST_SCORE: self.top_score[order],
        }
        for column, each in enumerate(self.interests.topics):
            columns[topic_column(each.id)] = self.rounded[order, column]
        return columns


def _describe(topic: Topic, score: float, count: int) -> str:
    """One topic's line: its whole points, how many activities, and what decay and the
    cap did to them."""
    notes = [f"×{count}"] if count > 1 else []
    full = topic.points * count
    if topic.cap is not None and math.isclose(score, topic.cap):
        notes.append(f"capped at {number(topic.cap)}")
    elif topic.half_life_days is not None and whole_points(score) != whole_points(full):
        notes.append(f"decayed from {number(full)}")
    head = f"{topic.text} {whole_points(score)}"
    return f"{head} ({', '.join(notes)})" if notes else head
