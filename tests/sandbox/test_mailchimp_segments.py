"""Tags in bulk as static segments, PATCH operations through /batches, campaign filters.

Through the real SDK against the Mailchimp sandbox.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from sandbox.mailchimp import MailchimpSandbox, iso, sandbox_client, subscriber_hash
from tests.sandbox.mailchimp_helpers import finish_batches, reset
from tests.sandbox.test_mailchimp import ago, build_world


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    emulator = MailchimpSandbox(
        build_world(), soft_bounce_share=0.0, transactional_share=0.0, archived_share=0.0
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    return server


@pytest.fixture
def client(sandbox: MailchimpSandbox) -> Any:
    return sandbox_client(sandbox)


def tags_of(client: Any, sandbox: MailchimpSandbox, email: str) -> list[str]:
    found = client.lists.get_list_member(sandbox.list_id, subscriber_hash(email))
    return [t["name"] for t in found["tags"]]


def test_the_worlds_tags_are_static_segments(client: Any, sandbox: MailchimpSandbox) -> None:
    segments = client.lists.list_segments(sandbox.list_id, type="static")
    saved = client.lists.list_segments(sandbox.list_id, type="saved")

    counts = {s["name"]: s["member_count"] for s in segments["segments"]}
    assert counts == {"newsletter": 2, "customer": 2}  # eve and fay; ann and fay
    assert {s["type"] for s in segments["segments"]} == {"static"}
    assert saved["total_items"] == 0
    one = segments["segments"][0]
    assert client.lists.get_segment(sandbox.list_id, str(one["id"]))["name"] == one["name"]


def test_a_tag_is_created_as_a_static_segment_and_filled_in_bulk(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    created = client.lists.create_segment(
        sandbox.list_id, {"name": "leadscore: mql", "static_segment": ["p01@acme.io"]}
    )
    before = client.lists.get_list_member(sandbox.list_id, subscriber_hash("p02@acme.io"))
    result = client.lists.batch_segment_members(
        {
            "members_to_add": ["p02@acme.io", "P03@acme.io", "nobody@acme.io"],
            "members_to_remove": ["p01@acme.io", "ghost@acme.io"],
        },
        sandbox.list_id,
        str(created["id"]),
    )
    after = client.lists.get_list_member(sandbox.list_id, subscriber_hash("p02@acme.io"))
    segment = client.lists.get_segment(sandbox.list_id, str(created["id"]))

    assert (created["type"], created["member_count"]) == ("static", 1)
    assert result["total_added"] == 2
    assert result["total_removed"] == 1
    assert [m["email_address"] for m in result["members_added"]] == ["p02@acme.io", "p03@acme.io"]
    assert result["error_count"] == 2
    assert [e["email_addresses"] for e in result["errors"]] == [
        ["nobody@acme.io"],
        ["ghost@acme.io"],
    ]
    assert tags_of(client, sandbox, "p02@acme.io") == ["leadscore: mql"]
    assert tags_of(client, sandbox, "p01@acme.io") == []
    assert segment["member_count"] == 2
    assert after["last_changed"] == iso(sandbox.now()) != before["last_changed"]
    with pytest.raises(ApiClientError) as caught:
        client.lists.get_list_member(sandbox.list_id, subscriber_hash("nobody@acme.io"))
    assert caught.value.status_code == 404


def test_adding_a_tag_twice_changes_nothing_and_500_is_the_most_per_call(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    segment = client.lists.create_segment(sandbox.list_id, {"name": "hot", "static_segment": []})
    ident = str(segment["id"])
    client.lists.batch_segment_members({"members_to_add": ["p04@acme.io"]}, sandbox.list_id, ident)

    again = client.lists.batch_segment_members(
        {"members_to_add": ["p04@acme.io"]}, sandbox.list_id, ident
    )
    with pytest.raises(ApiClientError) as too_many:
        client.lists.batch_segment_members(
            {"members_to_add": [f"x{n}@acme.io" for n in range(501)]}, sandbox.list_id, ident
        )
    with pytest.raises(ApiClientError) as twice:
        client.lists.create_segment(sandbox.list_id, {"name": "hot", "static_segment": []})
    with pytest.raises(ApiClientError) as unknown:
        client.lists.batch_segment_members({"members_to_add": []}, sandbox.list_id, "999")

    assert (again["total_added"], again["error_count"]) == (0, 0)
    assert too_many.value.status_code == 400
    assert twice.value.status_code == 400
    assert unknown.value.status_code == 404


def test_the_old_stage_tag_made_inactive_leaves_the_segment(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    client.lists.update_list_member_tags(
        sandbox.list_id,
        subscriber_hash("p05@acme.io"),
        {"tags": [{"name": "leadscore: sql", "status": "active"}]},
    )
    names = [s["name"] for s in client.lists.list_segments(sandbox.list_id)["segments"]]
    client.lists.update_list_member_tags(
        sandbox.list_id,
        subscriber_hash("p05@acme.io"),
        {"tags": [{"name": "leadscore: sql", "status": "inactive"}]},
    )
    segments = client.lists.list_segments(sandbox.list_id)["segments"]

    assert "leadscore: sql" in names
    assert {s["name"]: s["member_count"] for s in segments}["leadscore: sql"] == 0
    assert sandbox.calls["lists.list_segments"] == 2


def results_of(sandbox: MailchimpSandbox, client: Any, batch_id: str) -> list[dict[str, Any]]:
    finish_batches(sandbox)
    url = client.batches.status(batch_id)["response_body_url"]
    found: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(requests.get(url, timeout=10).content)) as archive:
        for entry in sorted(archive.getmembers(), key=lambda e: e.name):
            if entry.isfile():
                extracted = archive.extractfile(entry)
                assert extracted is not None
                found.extend(json.loads(extracted.read()))
    return found


def test_a_batch_patch_of_an_unknown_member_is_a_404_result_and_creates_nobody(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    path = f"/lists/{sandbox.list_id}/members/"
    body = json.dumps({"merge_fields": {"COMPANY": "Acme Corp"}})
    batch = client.batches.start(
        {
            "operations": [
                {
                    "method": "PATCH",
                    "path": path + subscriber_hash(e),
                    "operation_id": e,
                    "body": body,
                }
                for e in ("p06@acme.io", "gone@acme.io")
            ]
        }
    )

    results = {r["operation_id"]: r for r in results_of(sandbox, client, batch["id"])}

    assert results["p06@acme.io"]["status_code"] == 200
    assert json.loads(results["p06@acme.io"]["response"])["merge_fields"]["COMPANY"] == "Acme Corp"
    assert results["gone@acme.io"]["status_code"] == 404
    assert json.loads(results["gone@acme.io"]["response"])["title"] == "Resource Not Found"
    with pytest.raises(ApiClientError):
        client.lists.get_list_member(sandbox.list_id, subscriber_hash("gone@acme.io"))


def test_campaigns_can_be_filtered_by_list_status_and_send_time(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    ours = client.campaigns.list(list_id=sandbox.list_id, status="sent", since_send_time=ago(30))
    other = client.campaigns.list(list_id="0000000000")

    assert [c["settings"]["title"] for c in ours["campaigns"]] == ["Launch"]
    assert other["total_items"] == 0


# -- merge field limits --------------------------------------------------------------------


def test_a_merge_tag_is_at_most_10_upper_case_letters_digits_or_underscores(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    for tag in ("LEADSCORE_STAGE", "LS-STAGE", "LS STAGE"):
        with pytest.raises(ApiClientError) as caught:
            client.lists.add_list_merge_field(
                sandbox.list_id, {"name": "Stage", "type": "text", "tag": tag}
            )
        assert caught.value.status_code == 400
        assert json.loads(caught.value.text)["errors"][0]["field"] == "tag"

    made = client.lists.add_list_merge_field(
        sandbox.list_id, {"name": "Stage", "type": "text", "tag": "ls_stage1"}
    )
    assert made["tag"] == "LS_STAGE1"


def test_text_values_over_255_characters_and_bad_dates_are_refused(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    made = client.lists.add_list_merge_field(
        sandbox.list_id, {"name": "Scored", "type": "date", "tag": "LS_SCORED"}
    )
    who = subscriber_hash("p07@acme.io")

    assert made["options"]["date_format"] == "MM/DD/YYYY"
    for merge in ({"COMPANY": "x" * 256}, {"LS_SCORED": "2026-13-01"}, {"LS_SCORED": "31/12/2026"}):
        with pytest.raises(ApiClientError) as caught:
            client.lists.update_list_member(sandbox.list_id, who, {"merge_fields": merge})
        assert json.loads(caught.value.text)["errors"][0]["field"] == next(iter(merge))
    kept = client.lists.update_list_member(
        sandbox.list_id,
        who,
        {"merge_fields": {"COMPANY": "x" * 255, "LS_SCORED": "12/31/2026"}},
    )
    assert kept["merge_fields"]["LS_SCORED"] == "12/31/2026"
    assert len(kept["merge_fields"]["COMPANY"]) == 255
