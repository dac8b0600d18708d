"""What the quick commands load: `--help` nothing heavy, `validate` no numpy and no store.

Import time is what makes them slow to answer (a benchmark, `bench/startup.py`, times
them); these tests pin which modules each one leaves alone, so a top-level import
added to the command line shows here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
HEAVY = ("numpy", "sqlalchemy", "pydantic_settings", "pyarrow", "hubspot", "pydantic")


def loaded_after(*args: str) -> set[str]:
    """The heavy modules loaded once `leadscore ARGS` has run, in a fresh interpreter."""
    code = (
        "import json, sys\n"
        "from sync.cli import app\n"
        f"try:\n    app({list(args)!r})\n"
        "except SystemExit:\n    pass\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_help_loads_nothing_heavy() -> None:
    assert loaded_after("--help") == set()


def test_validate_reads_the_rules_without_numpy_the_store_or_the_settings() -> None:
    assert loaded_after("validate", str(RULES)) == {"pydantic"}


def test_the_lambda_handler_and_its_settings_load_no_sdk_store_or_engine() -> None:
    """A serverless cold start pays for these only on the request that needs them."""
    sdks = ("hubspot", "simple_salesforce", "mailchimp_marketing", "requests", "urllib3")
    heavy = (*sdks, "sqlalchemy", "numpy", "pyarrow", "yaml", "rich", "typer", "tenacity")
    code = (
        "import json, sys\n"
        "import sync.web.aws\n"
        "from sync.config import read_settings\n"
        "read_settings()\n"
        f"print(json.dumps([m for m in {list(heavy)!r} if m in sys.modules]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env["LEADSCORE_HUBSPOT__ACCESS_TOKEN"] = "pat-na1-00000000-0000-0000-0000-000000000000"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_scoring_files_never_loads_the_store(tmp_path: Path) -> None:
    """`leadscore score` reads files: SQLAlchemy (a few tenths of a second) is not its."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,email\nc1,ann@acme.io\n", "utf-8")
    out = tmp_path / "scores.csv"

    loaded = loaded_after(
        "score", "--rules", str(RULES), "--contacts", str(contacts), "--out", str(out)
    )

    assert out.exists()
    assert "sqlalchemy" not in loaded
    assert {"numpy", "pyarrow"} <= loaded
