"""Rule files remembered as plain data, so that a cold start skips YAML.

Reading a rule file is two steps: YAML to plain data, with the loader's bounds (size,
nesting, aliases, duplicate keys; `scoring.yamlrules`), then that data validated into a
`RuleSet` by the rule models. The first step is most of the time and does not depend
on anything but the file's bytes and the loader's code, so its result is kept as JSON
in a `__pycache__` folder beside the rule file, as Python keeps bytecode:

    rules/__pycache__/leadscore.yaml.<key>.json     key: the file's bytes and the source
                                                   of `scoring.yamlrules`, hashed (SHA-256)

Only data from a file that passed both steps is kept, and the second step runs on every
load, cached or not: a cached entry can only skip work, never a check the models make.
An entry that is unreadable, too large, not JSON or fails validation is ignored and the
file read in full. A folder that cannot be written (a read-only package) is no error:
the file is then read in full each time. Whoever can write the folder can change the
rules read, as whoever can write the rule file itself or Python's bytecode beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

FOLDER = "__pycache__"
LARGEST = 4_000_000
"""Bytes of the largest entry read (the JSON of a 1 MB rule file is far smaller)."""


def cache_key(raw: bytes) -> str | None:
    """The key of a rule file's bytes with this loader (None: the loader's source cannot
    be read, so nothing is cached)."""
    try:
        loader = Path(__file__).with_name("yamlrules.py").read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(hashlib.sha256(loader).digest() + raw)
    return digest.hexdigest()[:32]


def entry_path(path: Path, key: str) -> Path:
    return path.parent / FOLDER / f"{path.name}.{key}.json"


def cached_data(path: Path, raw: bytes) -> Any | None:
    """The plain data kept for these bytes of the file at `path`, if any."""
    key = cache_key(raw)
    if key is None:
        return None
    try:
        with entry_path(path, key).open("rb") as file:
            text = file.read(LARGEST + 1)
        if len(text) > LARGEST:
            return None
        return json.loads(text)
    except (OSError, ValueError, RecursionError):
        return None


def remember(path: Path, raw: bytes, data: Any) -> None:
    """Keep the plain data of a rule file that validated, where it can be kept as JSON
    exactly (keys all text, no dates); silently nothing where the folder is read-only."""
    key = cache_key(raw)
    if key is None:
        return
    try:
        text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        if json.loads(text) != data:
            return
    except (TypeError, ValueError, RecursionError):
        return
    target = entry_path(path, key)
    try:
        target.parent.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, suffix=".tmp", delete=False
        ) as file:
            file.write(text)
        try:
            os.replace(file.name, target)
        except OSError:
            Path(file.name).unlink(missing_ok=True)
            return
        for older in target.parent.glob(f"{path.name}.*.json"):
            if older != target:
                older.unlink(missing_ok=True)
    except OSError:
        return
