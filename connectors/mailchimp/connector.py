"""The Mailchimp connector: the protocol's verbs over `MailchimpApi`.

Audience members in (`pull("contacts")`), their campaigns' email activity
(`email_activity`: campaigns sent before the rules' longest window for email activity
are not read, and of the others only the reports whose counts moved since the last pull)
and their stores' orders (`orders`), leadscore's merge fields created in each
audience (`setup`), one member fetched for a trigger (`fetch`), scores written back
as merge fields and a stage tag (`write`: `connectors.mailchimp.write` says how and
why, `connectors.mailchimp.batch` for runs that write many).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.mailchimp.activity import pull_email_activity
from connectors.mailchimp.archived import ArchivedReads
from connectors.mailchimp.attributes import MAILCHIMP_ATTRIBUTES
from connectors.mailchimp.batch import write_batched
from connectors.mailchimp.client import MAILCHIMP_TIMEOUT, MailchimpApi
from connectors.mailchimp.keys import split_member_key
from connectors.mailchimp.orders import pull_orders
from connectors.mailchimp.pull import audience_ids, fetch_member, pull_members
from connectors.mailchimp.setup import setup_merge_fields
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES, STAGE_TAG
from connectors.mailchimp.write import StageTags, member_writes, write_direct
from connectors.paging import load_cursor, side_by_side
from connectors.policy import CallPolicy, Clock
from connectors.protocol import (
    Capabilities,
    FieldSpec,
    OwnWrites,
    Page,
    SetupReport,
    Write,
    WriteOutcome,
)
from scoring.records import ActivityType

BATCH_WRITE_ABOVE = 20
EMAIL_TYPES = tuple(t for t in ActivityType if t.value.startswith("email_"))
"""The activity types campaign reports give (sends, opens, clicks, bounces, departures)."""


class MailchimpConnector:
    """Mailchimp through its official SDK, under one call policy and its connection cap."""

    capabilities: Capabilities = MAILCHIMP_CAPABILITIES
    streams: tuple[str, ...] = ("contacts", "email_activity", "orders")

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        server: str | None = None,
        base_url: str | None = None,
        timeout: float = MAILCHIMP_TIMEOUT,
        audiences: Sequence[str] = (),
        tags: bool = True,
        batch_write_above: int = BATCH_WRITE_ABOVE,
        attributes: AttributeMap | None = None,
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        history: Callable[[Collection[ActivityType]], datetime | None] | None = None,
    ) -> None:
        self.api = MailchimpApi(
            api_key=api_key,
            access_token=access_token,
            server=server,
            base_url=base_url,
            timeout=timeout,
            policy=policy,
            clock=clock,
            seed=seed,
        )
        self.audiences = tuple(audiences)
        """The audiences configured; empty: every audience of the account, read per call."""
        self.tags = tags
        """Whether writes mark the stage with a `leadscore: <stage>` tag."""
        self.attributes = attributes or MAILCHIMP_ATTRIBUTES
        self.history = history or (lambda types: None)
        """The oldest moment the rules read activities of some types from (None: all)."""
        self.skipped: Counter[str] = Counter()
        """Report records and orders passed over, by reason, since the connector was built."""
        self.batch_write_above = batch_write_above
        """Runs writing more members than this go through `/batches`; fewer, call by call."""
        self.held: dict[str, frozenset[str]] = {}
        self.archived = ArchivedReads(self.api)
        """The archived members' addresses, read once for the activity streams side by side."""
        self.stage_tags = StageTags()
        """The stage tags each member held when pulled (a write that keeps them sends none)."""

    @property
    def system(self) -> str:
        return self.capabilities.system

    @property
    def policy(self) -> CallPolicy:
        return self.api.policy

    def __repr__(self) -> str:
        return f"MailchimpConnector(host={self.api.host!r})"

    def calls(self) -> Mapping[str, int]:
        return self.api.calls()

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        if stream == "contacts":
            state, oldest = load_cursor(cursor), self.history(EMAIL_TYPES)
            pages = pull_members(self.api, self.audiences, state, self.attributes,
                                 skipped=self.skipped, oldest=oldest)  # fmt: skip
            return self._noting_tags(pages)
        if stream == "email_activity":
            oldest = self.history(EMAIL_TYPES)
            lists = audience_ids(self.api, self.audiences)
            pages = pull_email_activity(self.api, lists, cursor, oldest, skipped=self.skipped)
            return self.archived.without(lists, pages)
        if stream == "orders":
            lists = audience_ids(self.api, self.audiences)
            oldest = self.history((ActivityType.PURCHASE,))
            return self.archived.without(
                lists, pull_orders(self.api, lists, oldest, skipped=self.skipped)
            )
        raise ValueError(f"Mailchimp has no stream {stream!r}; it has {', '.join(self.streams)}")

    def _noting_tags(self, pages: Iterator[Page]) -> Iterator[Page]:
        for page in pages:
            for contact in page.contacts:
                tags = contact.attributes.get("tags")
                names = tags if isinstance(tags, list | tuple) else ()
                held = frozenset(str(t) for t in names if str(t).startswith(STAGE_TAG))
                self.held[contact.id] = held
            yield page

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        """One member by `<list_id>:<subscriber hash>`, or by email (first audience holding it).
        By id, with tags on, the audience's stage tags are read beside it for the write."""
        if record_id is None or not self.tags:
            return fetch_member(self.api, self.audiences, self.attributes, record_id, email)
        list_id, _ = split_member_key(record_id)
        both: list[Any] = side_by_side(
            [lambda: fetch_member(self.api, self.audiences, self.attributes, record_id, None),
             lambda: self.stage_tags.read(self.api, list_id)],
            2,
        )  # fmt: skip
        page: Page = both[0]
        return page

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_merge_fields(self.api, self.audiences, fields, dry_run=dry_run)

    def stage_values(self) -> list[str]:
        """Mailchimp has no lifecycle field of its own: our stage is a tag."""
        return []

    def write_size(self, planned: int) -> int:
        """Every write of the run in one call: direct calls for a few, batches for more."""
        return max(planned, 1)

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        """Merge fields (and the stage tag) of existing members; nobody created or
        resubscribed. More than `batch_write_above` through `/batches`."""
        outcome = WriteOutcome()
        read = self.stage_tags.fresh(self.api.policy.clock.now())
        members = member_writes(self.api, writes, self.tags, self.held, outcome, read)
        self.stage_tags.note(members)
        if not members:
            return outcome
        if len(members) > self.batch_write_above:
            landed = write_batched(self.api, members)
        else:
            landed = write_direct(self.api, members)
        outcome.written.extend(landed.written)
        outcome.failed.extend(landed.failed)
        outcome.gone.extend(landed.gone)
        outcome.stamps.extend(landed.stamps)
        return outcome

    def start_run(self) -> None:
        """Mailchimp has no daily budget: nothing starts afresh."""

    def budget(self) -> Mapping[str, Any] | None:
        return None

    def after_writes(self, stream: str, cursor: str, ours: OwnWrites) -> str:
        """The cursor as it is: the next pull reads our own writes again (the store finds
        nothing changed in them). Mailchimp answers each PATCH with the member's
        `last_changed` (so `write` reports stamps), but its member list filters only by
        status and `since_last_changed`/`before_last_changed`, not by a merge field's
        value (API reference, list members), so a pull cannot ask to pass over members
        holding our `scored_at` and unchanged since: it would read the same pages and
        drop them itself, saving no call."""
        return cursor
