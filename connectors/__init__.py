"""Connectors: pull contacts and activities from a system, write scores back to it.

Each system lives in its own module; vendor SDKs are imported there, lazily.
"""

from __future__ import annotations

from connectors.errors import ConnectorError, FileProblem, InputFileError

__all__ = ["ConnectorError", "FileProblem", "InputFileError"]
