"""Reaching a Salesforce sandbox with simple-salesforce, whose URLs are https to
*.salesforce.com: a transport adapter that sends them to the sandbox over plain http, a
session that mounts it, and a logged-in client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from sandbox.http import Emulator
from sandbox.salesforce import auth

if TYPE_CHECKING:
    from sandbox.salesforce.emulator import SalesforceSandbox


class SandboxAdapter(HTTPAdapter):
    """A transport adapter that sends Salesforce's https URLs to a sandbox over plain http.

    Mounted for `https://`, it rewrites `https://<anything>.salesforce.com/...` and
    `https://<sandbox host:port>/...` to the sandbox's `http://127.0.0.1:<port>/...`;
    any other URL passes through unchanged. The host the SDK addressed travels in the
    `Host` header, so that the sandbox can tell login.salesforce.com from My Domain.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.target = urlsplit(base_url)

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        ours = host == "salesforce.com" or host.endswith(".salesforce.com")
        if parts.scheme != "https" or not (ours or parts.netloc == self.target.netloc):
            return url
        return urlunsplit((self.target.scheme, self.target.netloc, parts.path, parts.query, ""))

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        original = request.url or ""
        request.url = self.rewrite(original)
        if request.url != original:
            request.headers["Host"] = urlsplit(original).netloc
        return super().send(request, *args, **kwargs)


def sandbox_session(sandbox: Emulator | str) -> requests.Session:
    """A `requests.Session` for `Salesforce(..., session=...)` that reaches a running
    sandbox (or the one serving at a base URL, from another process)."""
    session = requests.Session()
    base_url = sandbox if isinstance(sandbox, str) else sandbox.base_url
    session.mount("https://", SandboxAdapter(base_url))
    return session


def connect(sandbox: SalesforceSandbox, flow: auth.Flow = "oauth", **options: Any) -> Any:
    """A logged-in `simple_salesforce.Salesforce` client of a running sandbox (for the
    "jwt" flow, pass `privatekey` or `privatekey_file`)."""
    from simple_salesforce.api import Salesforce

    arguments: dict[str, Any] = {**sandbox.credentials(flow), **options}
    return Salesforce(session=sandbox_session(sandbox), **arguments)
