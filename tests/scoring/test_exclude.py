"""The rule file's `exclude`: who is never scored, read and checked, and left out of a batch."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import (
    ActivityFrame,
    ContactFrame,
    RuleFileError,
    RuleSet,
    excluded,
    load_rules,
    parse_rules,
    score_included,
    score_records,
)
from tests.helpers import NOW, act, person, rules
from tests.scoring.test_properties import RULES, outcome, worlds

BASE = """
rules:
  - {id: saas, contact: {industry: SaaS}, points: 20}
  - {id: visit, activity: page_view, points: 3}
"""


def with_exclude(block: str) -> RuleSet:
    return rules(BASE + textwrap.dedent(block))


def frames(contacts, activities) -> tuple[ContactFrame, ActivityFrame]:
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(activities, frame.ids)


def test_a_contact_any_condition_or_listed_address_excludes() -> None:
    ruleset = with_exclude(
        """
        exclude:
          contact: {marketing_opt_out: true}
          any:
            - {legal_basis: {exists: false}, country: DE}
          emails: [" Listed@Example.com "]
        """
    )
    people = [
        person("opted", "a@x.io", marketing_opt_out="true", legal_basis="consent"),
        person("de", "b@x.io", country="DE"),
        person("de_ok", "c@x.io", country="DE", legal_basis="consent"),
        person("listed", "LISTED@example.com ", legal_basis="consent"),
        person("kept", "d@x.io", marketing_opt_out="false", legal_basis="consent"),
        person("no_address", None, legal_basis="consent"),
    ]
    mask = excluded(ruleset, ContactFrame.from_records(people))
    assert dict(zip([p.id for p in people], mask.tolist(), strict=True)) == {
        "opted": True,
        "de": True,
        "de_ok": False,
        "listed": True,
        "kept": False,
        "no_address": False,
    }


def test_the_fields_the_exclusion_reads_are_pulled() -> None:
    ruleset = with_exclude(
        """
        exclude:
          contact: {marketing_opt_out: true}
          any: [{legal_basis: {exists: false}}]
        """
    )
    assert ruleset.contact_fields() == ["industry", "marketing_opt_out", "legal_basis"]


def test_no_exclusion_excludes_nobody() -> None:
    assert not excluded(rules(BASE), ContactFrame.from_records([person()])).any()


def test_a_list_file_beside_the_rule_file_is_read_into_the_addresses(tmp_path: Path) -> None:
    (tmp_path / "objected.txt").write_text(
        "# by phone\nOne@Example.com\n\n two@example.com # mail\n"
    )
    path = tmp_path / "rules.yaml"
    path.write_text(BASE + "exclude:\n  emails: [three@example.com]\n  emails_file: objected.txt\n")
    for _ in range(2):  # read, then from the cache beside the file: the list is read both times
        exclusion = load_rules(path).exclude
        assert exclusion is not None and exclusion.emails_file is None
        assert exclusion.emails == ["three@example.com", "one@example.com", "two@example.com"]
    (tmp_path / "objected.txt").write_text("four@example.com\n")
    exclusion = load_rules(path).exclude
    assert exclusion is not None and "four@example.com" in exclusion.emails


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("exclude: {}", "test.yaml:4: exclude: `exclude` names nobody"),
        ("exclude:\n  contact: {}", "test.yaml:5: exclude.contact: empty conditions"),
        ("exclude:\n  any: [{a: 1}, {}]", "test.yaml:5: exclude.any[1]: empty conditions"),
        ("exclude:\n  emails: [ok@x.io, nope]", "exclude.emails[1]: 'nope' is not an email"),
        ("exclude:\n  contact: {a: {above: 1}}", "test.yaml:5: exclude.contact.a.above"),
        ("exclude:\n  emails_file: none.txt", "test.yaml:5: exclude.emails_file: none.txt: file"),
        ("exclude:\n  colour: red", "exclude.colour: unknown field 'colour'"),
    ],
)
def test_a_bad_exclusion_is_named_at_its_line_and_field(
    block: str, expected: str, tmp_path: Path
) -> None:
    with pytest.raises(RuleFileError) as error:
        parse_rules(textwrap.dedent(BASE).lstrip() + block + "\n", "test.yaml", base=tmp_path)
    assert expected in str(error.value).replace(str(tmp_path) + "/", "")


def test_a_bad_address_in_the_list_file_is_named_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "objected.txt").write_text("ok@example.com\nnot an address\n")
    path = tmp_path / "rules.yaml"
    path.write_text(BASE + "exclude:\n  emails_file: objected.txt\n")
    with pytest.raises(RuleFileError) as error:
        load_rules(path)
    assert (
        str(error.value)
        == f"{tmp_path / 'objected.txt'}:2: 'not an address' is not an email address"
    )


def test_an_excluded_contact_is_not_scored_and_the_batch_names_it() -> None:
    ruleset = with_exclude("exclude: {contact: {marketing_opt_out: true}}")
    people = [
        person("a", "a@x.io", industry="SaaS"),
        person("b", "b@x.io", industry="SaaS", marketing_opt_out=True),
    ]
    contacts, activities = frames(people, [act("page_view", 1, "a"), act("page_view", 1, "b")])
    batch, kept = score_included(ruleset, contacts, activities, NOW, reached=[None, "MQL"])
    assert list(batch.contact_ids) == ["a"] and batch.excluded_ids == ("b",)
    assert batch.total.tolist() == [23.0]
    assert kept.rows.tolist() == [0] and len(kept.activities) == 1


@given(worlds(), st.data())
def test_an_excluded_contact_never_changes_anyone_elses_score(world, data) -> None:
    contacts, activities = world
    chosen = data.draw(st.sets(st.sampled_from([c.id for c in contacts])))
    listed = [c.email for c in contacts if c.id in chosen and c.email]
    exclusion = parse_rules(BASE + f"exclude: {{emails: {listed or ['x@y.io']}}}").exclude
    ruleset = RULES.model_copy(update={"exclude": exclusion})
    frame, acts = frames(contacts, activities)
    batch, _ = score_included(ruleset, frame, acts, NOW)
    gone = {c.id for c in contacts if c.email and c.email.strip().lower() in set(listed)}
    assert set(batch.excluded_ids) == gone
    others = [c for c in contacts if c.id not in gone]
    alone = score_records(RULES, others, activities, NOW)  # as if the excluded never were
    assert list(batch.contact_ids) == [c.id for c in others]
    for row in range(len(others)):
        assert outcome(batch, row) == outcome(alone, row)
        assert batch.reasons_text(row) == alone.reasons_text(row)


@given(worlds())
def test_a_batch_of_one_scores_and_excludes_as_a_batch_of_many(world) -> None:
    contacts, activities = world
    half = [c.email for c in contacts[::2] if c.email]
    exclusion = parse_rules(BASE + f"exclude: {{emails: {half or ['x@y.io']}}}").exclude
    ruleset = RULES.model_copy(update={"exclude": exclusion})
    many, _ = score_included(ruleset, *frames(contacts, activities), NOW)
    rows = {cid: row for row, cid in enumerate(many.contact_ids)}
    for contact in contacts:
        one, _ = score_included(ruleset, *frames([contact], activities), NOW)
        if contact.id in many.excluded_ids:
            assert one.excluded_ids == (contact.id,) and len(one) == 0
        else:
            assert one.excluded_ids == () and outcome(one, 0) == outcome(many, rows[contact.id])


def test_per_contact_moments_and_past_scores_follow_the_contacts_kept() -> None:
    ruleset = with_exclude("exclude: {emails: [b@x.io]}")
    people = [person("a", "a@x.io"), person("b", "b@x.io"), person("c", "c@x.io")]
    contacts, activities = frames(people, [act("page_view", 5, "c")])
    moments = np.array([NOW.timestamp(), NOW.timestamp(), (NOW.timestamp() - 10 * 86_400)])
    batch, _ = score_included(ruleset, contacts, activities, moments)
    assert list(batch.contact_ids) == ["a", "c"]
    assert batch.total.tolist() == [0.0, 0.0]  # c's page view came after its own moment


addresses = st.tuples(
    st.text("abcdefghij.-_0123456789", min_size=1, max_size=12),
    st.sampled_from(["acme.io", "Example.COM", "xn--bcher-kva.de"]),
).map(lambda parts: f"{parts[0]}@{parts[1]}")


@given(
    st.lists(
        st.tuples(
            addresses,
            st.sampled_from(["", " ", "\t"]),
            st.booleans(),
            st.sampled_from(["", "  # noted by phone", "\t#x"]),  # after whitespace
        ),
        max_size=12,
    ),
    st.lists(st.sampled_from(["", "   ", "# a comment"]), max_size=3),
)
def test_a_list_file_reads_back_each_address_trimmed_and_lower_case(
    tmp_path_factory, entries, blanks
) -> None:
    folder = tmp_path_factory.mktemp("lists")
    lines = [f"{pad}{a.upper() if upper else a}{pad}{note}" for a, pad, upper, note in entries]
    (folder / "objected.txt").write_text("\n".join([*blanks, *lines]) + "\n", "utf-8")
    (folder / "rules.yaml").write_text(BASE + "exclude: {emails_file: objected.txt}\n", "utf-8")
    exclusion = load_rules(folder / "rules.yaml").exclude
    assert exclusion is not None
    assert exclusion.emails == list(dict.fromkeys(a.lower() for a, *_ in entries))
    frame = ContactFrame.from_records(
        [person(f"c{i}", f" {a.upper()} ") for i, (a, *_) in enumerate(entries)]
        + [person("other", "other@elsewhere.io")]
    )
    assert excluded(rules(BASE + "exclude: {emails: [x@y.io]}"), frame).sum() == 0
    ruleset = rules(BASE).model_copy(update={"exclude": exclusion})
    assert excluded(ruleset, frame).tolist() == [True] * len(entries) + [False]


def test_one_reader_of_address_lists_for_exclude_and_forget(tmp_path: Path) -> None:
    """A comment starts a line or follows whitespace (`a#b@x.io` is an address), and a line
    that is not UTF-8 is named by its number; `exclude.emails_file` and `forget --from-file`
    read a list alike."""
    from scoring.exclude_rules import address_lines
    from sync.privacy_cli import addresses_given

    raw = b"\xef\xbb\xbf# by phone\nA#B@x.io\n  c@x.io # by mail\n\tcomment-free@x.io\t\n\xff\xfe@x.io\n"
    entries, bad = address_lines(raw)
    assert entries == [(2, "A#B@x.io"), (3, "c@x.io"), (4, "comment-free@x.io")]
    assert [n for n, _ in bad] == [5] and "not UTF-8" in bad[0][1]

    (tmp_path / "objected.txt").write_bytes(raw.replace(b"\xff\xfe@x.io\n", b""))
    path = tmp_path / "rules.yaml"
    path.write_text(BASE + "exclude:\n  emails_file: objected.txt\n")
    exclusion = load_rules(path).exclude
    assert exclusion is not None
    assert exclusion.emails == ["a#b@x.io", "c@x.io", "comment-free@x.io"]
    assert addresses_given([], tmp_path / "objected.txt") == (exclusion.emails, [])

    (tmp_path / "objected.txt").write_bytes(raw)
    with pytest.raises(RuleFileError) as error:
        load_rules(path)
    assert str(error.value).startswith(f"{tmp_path / 'objected.txt'}:5: not UTF-8 text")
    found, problems = addresses_given([], tmp_path / "objected.txt")
    assert found == exclusion.emails
    assert problems == [f"{tmp_path / 'objected.txt'}:5: {bad[0][1]}"]
