"""The environment a CLI test runs `leadscore` in against a HubSpot sandbox: the default
rules, a state store in the test's folder, JSON logs, and a terminal of a given width."""

from __future__ import annotations

from pathlib import Path

from sandbox import Sandbox

DEFAULT_RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


def hubspot_env(box: Sandbox, folder: Path, columns: int = 80) -> dict[str, str]:
    return {
        "COLUMNS": str(columns),
        "LEADSCORE_RULES": str(DEFAULT_RULES),
        "LEADSCORE_STATE_URL": f"sqlite:///{folder / 'state.db'}",
        "LEADSCORE_HUBSPOT__ACCESS_TOKEN": box.hubspot.token,
        "LEADSCORE_HUBSPOT__HOST": box.hubspot.base_url,
        "LEADSCORE_LOG_FORMAT": "json",
    }
