"""What the Mailchimp tests do to a sandbox besides calling its API.

They record activity at runtime (`sandbox.mailchimp.simulation.add_member_activity`, as the
demo does); return a running sandbox to the projected world between tests; and run
waiting batches.
Each works under the sandbox's lock, as a request handler does.
"""

from __future__ import annotations

from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.simulation import add_member_activity as add_activity

__all__ = ["add_activity", "finish_batches", "reset"]


def reset(sandbox: MailchimpSandbox) -> None:
    """Forget every change, batch and count: project the world afresh; the server keeps running."""
    with sandbox.lock:
        sandbox.project_world()
        sandbox.calls.clear()
        sandbox.log.clear()


def finish_batches(sandbox: MailchimpSandbox) -> None:
    """Run every batch still waiting, as Mailchimp eventually does."""
    with sandbox.lock:
        for batch in sandbox.batches.values():
            if batch.status != "finished":
                sandbox.finish_batch(batch)
