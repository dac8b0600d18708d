"""Interest scores: glob matching, the rule file's `interests` block, and the engine's
columns against hand computations and a plain per-contact reference."""

from __future__ import annotations

import fnmatch
import math
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact, RuleFileError, parse_rules, score_records
from scoring.interest_rules import glob_match
from scoring.interests import GLOB_TEXT, matcher
from tests.helpers import NOW, act, days_ago, person, rules

TOPICS = """
    rules:
      - {id: views, activity: page_view, points: 1}
    interests:
      topics:
        - id: analytics
          label: Analytics
          urls: ["*/product/analytics*", "*/blog/*analytics*"]
          campaigns: ["*analytics*"]
          points: 10
          half_life_days: 10
          cap: 25
        - id: pricing
          urls: ["*/pricing*"]
          forms: ["Pricing request"]
          titles: ["*price list*"]
          points: 5
"""


def interests_of(activities: list[Activity], contacts: list[Contact] | None = None) -> list[dict]:
    batch = score_records(rules(TOPICS), contacts or [person()], activities, NOW)
    assert batch.interests is not None
    return [batch.interests.row(i) for i in range(len(batch))]


# -- globs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("*/product/analytics*", "https://x.io/product/analytics?utm=1", True),
        ("*/product/analytics*", "https://x.io/product/analyticsx", True),
        ("*/product/analytics*", "https://x.io/products/analytics", False),
        ("/pricing", "/pricing", True),
        ("/pricing", "https://x.io/pricing", False),  # a whole-value match without a star
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*a*b*", "xxaxxbxx", True),
        ("*a*b*", "xxbxxaxx", False),
        ("ab*ab", "ab", False),
        ("ab*ab", "abab", True),
    ],
)
def test_a_glob_matches_the_whole_value(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected
    assert matcher((pattern,))(text) is expected


def test_a_glob_ignores_case() -> None:
    assert matcher(("*/Product/ANALYTICS*",))("https://X.io/product/Analytics")


@given(
    st.text(alphabet="ab*?/", max_size=8).filter(lambda p: p.strip("*")),
    st.text(alphabet="ab/", max_size=12),
)
def test_a_glob_matches_as_fnmatch_does(pattern: str, text: str) -> None:
    expected = fnmatch.fnmatchcase(text, pattern)
    assert glob_match(pattern, text) is expected
    assert matcher((pattern,))(text) is expected


def test_a_long_value_is_matched_on_its_first_characters_in_little_time() -> None:
    long = "/" + "a" * (GLOB_TEXT * 50)
    assert matcher(("*a*a*a*a*b",))(long) is False
    assert matcher(("/a*",))(long)


# -- the rule file ----------------------------------------------------------------------


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(textwrap.dedent(text), "r.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        (
            "{id: a, points: 2}",
            "r.yaml:6: interests.topics[0]: topic 'a' needs at least one pattern in "
            "`urls`, `campaigns`, `forms`, `titles`, `tags`",
        ),
        (
            "{id: a, urls: ['  ']}",
            "r.yaml:6: interests.topics[0].urls[0]: a pattern must not be blank",
        ),
        (
            "{id: a, urls: ['**']}",
            "r.yaml:6: interests.topics[0].urls[0]: pattern '**' matches everything; name what "
            "the topic is about",
        ),
        (
            "{id: a, urls: ['/x'], points: 0}",
            "r.yaml:6: interests.topics[0].points: Input should be greater than 0 (got 0)",
        ),
        (
            "{id: a, urls: ['/x'], url: ['/y']}",
            "r.yaml:6: interests.topics[0].url: unknown field 'url'; did you mean 'urls'?",
        ),
        (
            "{id: Bad-Id, urls: ['/x']}",
            "r.yaml:6: interests.topics[0].id: String should match pattern "
            "'^[a-z][a-z0-9_]*$' (got 'Bad-Id')",
        ),
    ],
)
def test_a_bad_topic_is_reported_at_its_line_and_field(topic: str, expected: str) -> None:
    text = f"""
        rules:
          - {{id: r, activity: page_view, points: 1}}
        interests:
          topics:
            - {topic}
        """
    assert problems(text) == [expected]


def test_a_topic_id_given_twice_is_reported_at_the_second() -> None:
    found = problems(
        """
        rules:
          - {id: r, activity: page_view, points: 1}
        interests:
          topics:
            - {id: a, urls: ['/x']}
            - {id: a, urls: ['/y']}
        """
    )
    assert found == ["r.yaml:7: interests.topics[1].id: topic id 'a' appears twice"]


def test_a_topic_whose_column_is_a_dimension_is_refused() -> None:
    found = problems(
        """
        dimensions: {fit: {}, interest_a: {}}
        rules:
          - {id: r, contact: {c: 1}, points: 1}
        interests:
          topics:
            - {id: a, urls: ['/x']}
        """
    )
    assert found == [
        "r.yaml:7: interests.topics[0].id: topic 'a': its column 'interest_a' is a dimension's name"
    ]


def test_the_fields_topics_read_are_pulled_and_their_activities_never_cut_short() -> None:
    ruleset = rules(TOPICS)
    assert {"url", "campaign", "campaign_title", "form", "title", "page_title"} <= set(
        ruleset.activity_fields()
    )
    assert ruleset.horizon_days([ActivityType.FORM_SUBMISSION]) is None  # no window


# -- scores -----------------------------------------------------------------------------


def test_decay_and_cap_match_a_hand_computation() -> None:
    found = interests_of(
        [
            act("page_view", 10, url="https://x.io/product/analytics"),  # 10 · 2^-1 = 5
            act("page_view", 20, url="https://x.io/blog/why-analytics"),  # 10 · 2^-2 = 2.5
            act("email_click", 0, campaign="Analytics launch"),  # 10
            act("page_view", 1, url="https://x.io/pricing"),
        ]
    )[0]
    assert found["interest_analytics"] == pytest.approx(17.5)
    assert found["interest_pricing"] == 5.0
    assert found["top_interest"] == "analytics"
    assert found["interest_score"] == pytest.approx(17.5)
    capped = interests_of([act("page_view", 0, url="/product/analytics")] * 4)[0]
    assert capped["interest_analytics"] == 25.0  # 40 before the cap


def test_an_activity_matching_several_patterns_of_a_topic_counts_once() -> None:
    found = interests_of([act("form_submission", 0, form="Pricing request", url="/pricing")])
    assert found[0]["interest_pricing"] == 5.0


def test_sends_and_later_activities_show_no_interest() -> None:
    later = Activity("c1", ActivityType.PAGE_VIEW, days_ago(-1), attributes={"url": "/pricing"})
    found = interests_of([act("email_sent", 0, campaign="Analytics launch"), later])[0]
    assert found == {
        "top_interest": None,
        "interest_score": 0.0,
        "interest_analytics": 0.0,
        "interest_pricing": 0.0,
    }


def test_a_tie_goes_to_the_topic_listed_first() -> None:
    # an analytics view of today is 10 points; two pricing views (5 each) tie with it
    ruleset = rules(TOPICS)
    acts = [
        act("page_view", 0, url="/product/analytics"),
        act("page_view", 0, url="/pricing"),
        act("page_view", 0, url="/pricing"),
    ]
    batch = score_records(ruleset, [person()], acts, NOW)
    assert batch.interests is not None
    assert (
        batch.interests.row(0)["interest_pricing"] == batch.interests.row(0)["interest_analytics"]
    )
    assert batch.interests.row(0)["top_interest"] == "analytics"
    flipped = ruleset.model_copy(
        update={
            "interests": ruleset.interests.model_copy(  # type: ignore[union-attr]
                update={"topics": ruleset.interests.topics[::-1]}  # type: ignore[union-attr]
            )
        }
    )
    again = score_records(flipped, [person()], acts, NOW)
    assert again.interests is not None and again.interests.row(0)["top_interest"] == "pricing"


def test_a_topic_under_one_whole_point_is_no_top_interest() -> None:
    ruleset = rules(TOPICS.replace("points: 5", "points: 0.4"))
    batch = score_records(ruleset, [person()], [act("page_view", 0, url="/pricing")], NOW)
    assert batch.interests is not None
    assert batch.interests.row(0)["interest_pricing"] == 0.4
    assert batch.interests.row(0)["top_interest"] is None
    assert batch.interests.row(0)["interest_score"] == 0.0


def test_the_reasons_name_each_topic_with_its_count_decay_and_cap() -> None:
    batch = score_records(
        rules(TOPICS),
        [person()],
        [
            act("page_view", 10, url="/product/analytics"),
            act("page_view", 10, url="/product/analytics"),
            act("page_view", 0, url="/pricing"),
        ],
        NOW,
    )
    assert batch.interests is not None
    assert batch.interests.reasons(0) == ["Analytics 10 (×2, decayed from 20)", "pricing 5"]
    capped = score_records(
        rules(TOPICS), [person()], [act("page_view", 0, url="/product/analytics")] * 3, NOW
    )
    assert capped.interests is not None
    assert capped.interests.reasons(0) == ["Analytics 25 (×3, capped at 25)"]


def test_the_output_columns_hold_the_interests() -> None:
    batch = score_records(
        rules(TOPICS),
        [person("c1"), person("c2", email=None)],
        [act("page_view", 0, contact="c2", url="/pricing")],
        NOW,
    )
    columns = batch.columns()
    codes, ids = columns["top_interest"]
    assert [None if c < 0 else ids[c] for c in codes.tolist()] == [None, "pricing"]
    assert columns["interest_score"].tolist() == [0.0, 5.0]
    assert columns["interest_pricing"].tolist() == [0.0, 5.0]


# -- against a plain reference ------------------------------------------------------------

URLS = ["/product/analytics", "/blog/analytics-101", "/pricing", "/PRICING/enterprise", "/docs"]
KINDS = ["page_view", "email_click", "email_sent", "form_submission"]
TOPIC_SPECS = [
    ("analytics", ["*/product/analytics*", "*/blog/*analytics*"], 10.0, 10.0, 25.0),
    ("pricing", ["*/pricing*"], 5.0, None, None),
    ("docs", ["/docs"], 3.0, 2.0, None),
]
DEFAULT_SKIPPED = {"email_sent", "email_bounce", "email_unsubscribe", "email_spam_report"}


def reference(acts: list[tuple[str, int, str, float]], people: int) -> list[dict]:
    """Each contact's topics one activity at a time, from docs/rules.md."""
    out = []
    for who in range(people):
        scores = []
        for _, globs, points, half_life, cap in TOPIC_SPECS:
            total = 0.0
            for kind, contact, url, age_days in acts:
                if contact != who or kind in DEFAULT_SKIPPED or age_days < 0:
                    continue
                if any(fnmatch.fnmatchcase(url.casefold(), g.casefold()) for g in globs):
                    total += points * (1 if half_life is None else 2 ** (-age_days / half_life))
            scores.append(min(total, cap) if cap is not None else total)
        rounded = [round(s, 2) for s in scores]
        best = max(rounded)
        top = None if best < 0.5 else TOPIC_SPECS[rounded.index(best)][0]
        out.append({"top": top, "scores": scores})
    return out


def topic_rules() -> str:
    lines = ["rules:", "  - {id: r, activity: page_view, points: 1}", "interests:", "  topics:"]
    for name, globs, points, half_life, cap in TOPIC_SPECS:
        extra = "" if half_life is None else f", half_life_days: {half_life}"
        extra += "" if cap is None else f", cap: {cap}"
        lines.append(f"    - {{id: {name}, urls: {globs}, points: {points}{extra}}}")
    return "\n".join(lines)


activity_lists = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 3),
        st.sampled_from(URLS),
        st.sampled_from([-1.0, 0.0, 0.5, 3.0, 10.0, 40.0]),
    ),
    max_size=25,
)


def scored(acts: list[tuple[str, int, str, float]], people: list[int]) -> list[dict]:
    contacts = [Contact(f"c{i}") for i in people]
    records = [
        Activity(f"c{who}", ActivityType(kind), days_ago(age), attributes={"url": url})
        for kind, who, url, age in acts
    ]
    batch = score_records(parse_rules(topic_rules()), contacts, records, NOW)
    assert batch.interests is not None
    return [batch.interests.row(i) for i in range(len(people))]


@given(activity_lists)
def test_the_columns_equal_a_plain_per_contact_loop(
    acts: list[tuple[str, int, str, float]],
) -> None:
    expected = reference(acts, 4)
    for found, want in zip(scored(acts, [0, 1, 2, 3]), expected, strict=True):
        assert found["top_interest"] == want["top"]
        for (name, *_), value in zip(TOPIC_SPECS, want["scores"], strict=True):
            assert math.isclose(found[f"interest_{name}"], round(value, 2), abs_tol=0.011)


@given(activity_lists, st.integers(0, 3))
def test_a_batch_of_one_gives_what_a_batch_of_many_gives(
    acts: list[tuple[str, int, str, float]], who: int
) -> None:
    many = scored(acts, [0, 1, 2, 3])
    assert scored(acts, [who]) == [many[who]]


def test_a_topic_window_leaves_older_activities_out_and_bounds_the_history_read() -> None:
    ruleset = rules(TOPICS.replace("  points: 5\n", "  points: 5\n          window_days: 30\n"))
    found = score_records(
        ruleset,
        [person()],
        [act("page_view", 30, url="/pricing"), act("page_view", 31, url="/pricing")],
        NOW,
    )
    assert found.interests is not None
    assert found.interests.row(0)["interest_pricing"] == 5.0  # the boundary day included
    only_pricing = ruleset.model_copy(
        update={
            "interests": ruleset.interests.model_copy(
                update={"topics": ruleset.interests.topics[1:]}
            )
        }  # type: ignore[union-attr]
    )
    assert only_pricing.horizon_days([ActivityType.FORM_SUBMISSION]) == 30
    assert only_pricing.horizon_days([ActivityType.EMAIL_OPEN]) == 0  # opens are not read


def test_a_topics_reason_gives_the_whole_points_written_for_it() -> None:
    """2.4951 points are written as 2.50, so 3 whole points: the reason says 3 too."""
    ruleset = rules(TOPICS.replace("points: 5", "points: 2.4951"))
    batch = score_records(ruleset, [person()], [act("page_view", 0, url="/pricing")], NOW)
    assert batch.interests is not None
    written = batch.interests.row(0)["interest_pricing"]

    assert written == 2.5 and batch.interests.topic(0) is not None
    assert batch.interests.reasons(0) == [f"pricing {math.floor(written + 0.5)}"]


# -- URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "url", "expected"),
    [
        ("*/pricing", "https://x.io/pricing/", True),
        ("*/pricing", "https://x.io/pricing?utm_source=ads", True),
        ("*/pricing", "https://X.IO/Pricing/?utm=a#plans", True),
        ("*/pricing/", "https://x.io/pricing", True),
        ("*/pricing", "https://x.io/pricing-old", False),
        ("*/pricing*", "https://x.io/pricing-old", True),  # what the star says
        ("*/pricing/*", "https://x.io/pricing/teams?a=1", True),
        ("*analytics*", "https://x.io/?q=analytics", False),
        ("*analytics*", "https://x.io/search#analytics", False),
        ("https://x.io", "https://X.io/", True),
    ],
)
def test_a_url_is_matched_without_query_fragment_and_trailing_slash(
    pattern: str, url: str, expected: bool
) -> None:
    assert matcher((pattern,), url=True)(url) is expected


def test_a_url_is_matched_before_the_cut() -> None:
    long = "https://x.io/pricing/?utm=" + "a" * (GLOB_TEXT * 2)
    assert matcher(("*/pricing",), url=True)(long)
    assert matcher(("*/pricing",))(long) is False  # other fields: the first characters


@given(
    st.text(alphabet="ab*/", max_size=8).filter(lambda p: p.strip("*/")),
    st.text(alphabet="ab/.", max_size=12),
    st.sampled_from(["", "/", "?", "?a=b/", "#", "#x?y", "/?q=ab#c"]),
)
def test_a_url_matches_as_its_path_does(pattern: str, path: str, tail: str) -> None:
    """Whatever follows the path (a slash, a query string, a fragment) changes nothing,
    and the path itself matches as a glob matches its text without trailing slashes."""
    url = "https://X.io/" + path
    test = matcher((pattern,), url=True)
    assert test(url + tail) is test(url)
    bare = url.rstrip("/").casefold()
    assert test(url) is fnmatch.fnmatchcase(bare, pattern.rstrip("/") or pattern)


def test_a_topic_reads_urls_as_urls_and_other_fields_as_text() -> None:
    topics = """
    rules: [{id: v, activity: page_view, points: 1}]
    interests:
      topics:
        - {id: pricing, urls: ["*/pricing"], campaigns: ["*/pricing"], points: 5}
    """
    found = score_records(
        rules(topics),
        [person()],
        [
            act("page_view", 1, url="https://x.io/pricing/?utm=a"),
            act("email_click", 1, campaign="spring/pricing?x"),
            act("page_view", 1, url="https://x.io/?q=/pricing"),
        ],
        NOW,
    )
    assert found.interests is not None and found.interests.row(0)["interest_pricing"] == 5


# -- tags -------------------------------------------------------------------------------


def test_a_topic_of_tags_counts_a_tagged_contact_once_undecayed() -> None:
    from scoring.interests import tag_names

    topics = """
    rules: [{id: v, activity: page_view, points: 1}]
    interests:
      topics:
        - {id: webinars, tags: ["webinar*"], points: 8}
        - {id: pricing, urls: ["*/pricing"], tags: ["pricing request"], points: 5, cap: 7}
    """
    ruleset = rules(topics)
    assert "tags" in ruleset.contact_fields()
    assert ruleset.interests is not None and ruleset.interests.topics[0].types == []
    contacts = [
        person("a", "a@x.io", tags=["Webinar 2026", "vip"]),
        person("b", "b@x.io", tags=["Pricing request"]),
        person("c", "c@x.io", tags=[]),
        person("d", "d@x.io", tags="vip, webinar-march"),  # a file's cell
    ]
    acts = [act("page_view", 30, "b", url="https://x.io/pricing/")]
    found = score_records(ruleset, contacts, acts, NOW).interests
    assert found is not None
    got = [(found.row(i)["interest_webinars"], found.row(i)["interest_pricing"]) for i in range(4)]
    assert got == [(8, 0), (0, 7), (0, 0), (8, 0)]  # b: 5 + 5 capped at 7
    assert found.row(0)["top_interest"] == "webinars"
    assert tag_names("['a', 'b c']") == ["a", "b c"] and tag_names(" x , y ") == ["x", "y"]
    # a batch of one as the batch
    alone = score_records(ruleset, [contacts[1]], acts, NOW).interests
    assert alone is not None and alone.row(0) == found.row(1)


def test_a_topic_needs_a_pattern_or_a_tag() -> None:
    said = problems(
        """
        rules: [{id: v, activity: page_view, points: 1}]
        interests: {topics: [{id: empty}]}
        """
    )
    assert any("`tags`" in p for p in said), said
