"""The shape of the house: which package may import which, how long a module may grow,
and one meaning per name. See docs/architecture.md."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("connectors", "sandbox", "scoring", "sync")
SDKS = {"hubspot": "hubspot", "simple_salesforce": "salesforce", "mailchimp_marketing": "mailchimp"}
MAX_LINES = 500


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def imports(path: Path) -> list[tuple[str, bool]]:
    """Every module `path` imports, with whether the import is at the module's top level."""
    tree = ast.parse(path.read_text("utf-8"))
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(name, id(node) in top) for name in [node.module, *names]]
    return found


def package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


FORBIDDEN = {
    "connectors": ("sync", "sandbox"),
    "scoring": ("connectors", "sync", "sandbox"),
    "sandbox": ("sync", "connectors"),
    "sync": (),
}


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    package = package_of(path)
    wrong = []
    for name, _ in imports(path):
        head = name.split(".")[0]
        if head in FORBIDDEN[package]:
            wrong.append(name)
        if (
            package == "sandbox"
            and head == "scoring"
            and name.split(".")[:2]
            != [
                "scoring",
                "records",
            ]
        ):
            wrong.append(name)  # the sandbox knows the record types and nothing else of scoring
        if package == "sync" and head == "scoring" and name.count(".") > 1:
            wrong.append(name)  # sync uses scoring's public names only
    assert not [w for w in wrong if w != "scoring"], f"{path.name} imports {sorted(set(wrong))}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_vendor_sdk_is_imported_lazily_and_only_by_its_own_connector(path: Path) -> None:
    if package_of(path) == "sandbox":
        return  # the sandbox hands tests an SDK client pointed at it
    parts = path.relative_to(ROOT).parts
    for name, at_top in imports(path):
        system = SDKS.get(name.split(".")[0])
        if system is None:
            continue
        assert parts[:2] == ("connectors", system), f"{path} imports {name}"
        assert not at_top, f"{path} imports {name} at load time; import it where it is used"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_reads_at_once(path: Path) -> None:
    lines = len(path.read_text("utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path} has {lines} lines; split it along what it does"


def test_each_top_level_name_means_one_thing_across_the_product() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        for node in ast.parse(path.read_text("utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                names = []
            for name in names:
                if not name.startswith("_") and name != "log":
                    homes[name].append(str(path.relative_to(ROOT)))
    twice = {name: places for name, places in homes.items() if len(places) > 1}
    assert twice == {}
