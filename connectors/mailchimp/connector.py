"""The Mailchimp connector: the protocol's verbs over `MailchimpApi`.

Audience members in (`pull("contacts")`), their campaigns' email activity
(`email_activity`: campaigns sent before the rules' longest window for email activity
are not read) and their stores' orders (`orders`), leadscore's merge fields created in each
audience (`setup`), one member fetched for a trigger (`fetch`); writing scores
back (batch subscribe of merge fields and stage tags) is not part of this class yet,
so the system is not registered in `connectors.registry.SYSTEMS` until it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.mailchimp.activity import pull_email_activity
from connectors.mailchimp.attributes import MAILCHIMP_ATTRIBUTES
from connectors.mailchimp.client import MAILCHIMP_TIMEOUT, MailchimpApi
from connectors.mailchimp.orders import pull_orders
from connectors.mailchimp.pull import audience_ids, fetch_member, pull_members
from connectors.mailchimp.setup import setup_merge_fields
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES
from connectors.paging import load_cursor
from connectors.policy import CallPolicy, Clock
from connectors.protocol import Capabilities, FieldSpec, OwnWrites, Page, SetupReport
from scoring.records import ActivityType

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
            return pull_members(self.api, self.audiences, load_cursor(cursor), self.attributes)
        if stream == "email_activity":
            oldest = self.history(EMAIL_TYPES)
            lists = audience_ids(self.api, self.audiences)
            return pull_email_activity(self.api, lists, cursor, oldest, skipped=self.skipped)
        if stream == "orders":
            lists = audience_ids(self.api, self.audiences)
            oldest = self.history((ActivityType.PURCHASE,))
            return pull_orders(self.api, lists, oldest, skipped=self.skipped)
        raise ValueError(f"Mailchimp has no stream {stream!r}; it has {', '.join(self.streams)}")

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        """One member by `<list_id>:<subscriber hash>`, or by email (first audience holding it)."""
        return fetch_member(self.api, self.audiences, self.attributes, record_id, email)

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_merge_fields(self.api, self.audiences, fields, dry_run=dry_run)

    def stage_values(self) -> list[str]:
        """Mailchimp has no lifecycle field of its own: our stage is a tag."""
        return []

    def write_size(self, planned: int) -> int:
        """A batch subscribe's 500, whatever the run writes."""
        return self.capabilities.write_batch_size

    def start_run(self) -> None:
        """Mailchimp has no daily budget: nothing starts afresh."""

    def budget(self) -> Mapping[str, Any] | None:
        return None

    def after_writes(self, stream: str, cursor: str, ours: OwnWrites) -> str:
        """The cursor as it is: the next pull reads our own writes again (and finds
        nothing to write); passing over them comes with the writes."""
        return cursor
