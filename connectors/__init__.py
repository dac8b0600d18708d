"""Connectors: pull contacts and activities from a system, write scores back to it.

Each system is a package of its own (`connectors/hubspot/`; `connectors/salesforce/`,
built and not yet listed), listed in `connectors.registry` with its settings,
capabilities and factory; vendor
SDKs are imported inside it, lazily. `protocol` holds the verbs every
connector fills in, `policy` the retry and rate-limit policy they share,
`paging` the one way to walk pages and keep cursors, `values` the one way to read
a vendor's times and numbers, `files` the CSV and JSON
Lines connector, and `errors` the tree of what can go wrong.
"""

from __future__ import annotations

from connectors.errors import ApiError, ConnectorError, FileProblem, InputFileError
from connectors.protocol import (
    Capabilities,
    Connector,
    FieldSpec,
    Held,
    Page,
    SetupReport,
    Write,
    WriteFailure,
    WriteOutcome,
)

__all__ = [
    "ApiError",
    "Capabilities",
    "Connector",
    "ConnectorError",
    "FieldSpec",
    "FileProblem",
    "Held",
    "InputFileError",
    "Page",
    "SetupReport",
    "Write",
    "WriteFailure",
    "WriteOutcome",
]
