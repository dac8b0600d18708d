"""The README's settings table lists every setting there is."""

from __future__ import annotations

import re
from pathlib import Path

from sync.config import variables
from sync.settings import SECRETS_VARIABLE

README = Path(__file__).parents[1] / "README.md"


def test_the_settings_table_lists_every_setting() -> None:
    text = README.read_text("utf-8")
    table = text[text.index("## Settings") :].split("\n## ", 1)[0]
    listed = set(re.findall(r"`(LEADSCORE_[A-Z0-9_]+)`", table))
    assert {*variables(), SECRETS_VARIABLE} <= listed
