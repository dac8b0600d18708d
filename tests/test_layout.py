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
    return imports_in(path.read_text("utf-8"), str(path))


def imports_in(text: str, where: str) -> list[tuple[str, bool]]:
    """Every module `text` imports (a `from a import b` gives `a` and `a.b`), with whether
    the import runs when the module loads (anywhere outside a function)."""
    tree = ast.parse(text)
    lazy: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lazy.update(id(inner) for inner in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        eager = id(node) not in lazy
        if isinstance(node, ast.Import):
            found += [(alias.name, eager) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{where}: relative import; the project imports absolutely"
            assert node.module is not None
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(name, eager) for name in [node.module, *names]]
        elif (
            isinstance(node, ast.Call)
            and (getattr(node.func, "attr", "") or getattr(node.func, "id", ""))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((str(node.args[0].value), eager))
    return found


def package_of(path: Path) -> str:
    return path.relative_to(ROOT).parts[0]


def scoring_module(name: str) -> str | None:
    """The module of `scoring` a name reaches into (`scoring.frames.X` -> `frames`), if any."""
    parts = name.split(".")
    if parts[0] != "scoring" or len(parts) < 2:
        return None
    inner = ROOT / "scoring" / parts[1]
    return parts[1] if inner.with_suffix(".py").exists() or inner.is_dir() else None


FORBIDDEN = {
    "connectors": ("sync", "sandbox"),
    "scoring": ("connectors", "sync", "sandbox"),
    "sandbox": ("sync", "connectors"),
    "sync": (),
}
SANDBOX_USERS = (
    "sync/demo.py",
    "sync/demo_shared.py",
    "sync/cli.py",
    "sync/sandbox_command.py",
)
"""The demo and the `leadscore sandbox` command; nothing else of the product runs it."""


def problems(path: Path, found_imports: list[tuple[str, bool]] | None = None) -> list[str]:
    """What `path` (or the given imports, as if `path` made them) does against the rules."""
    package, where = package_of(path), str(path.relative_to(ROOT))
    found = []
    for name, _ in imports(path) if found_imports is None else found_imports:
        head, inner = name.split(".")[0], scoring_module(name)
        if head in FORBIDDEN[package]:
            found.append(f"{name}: {package} never imports {head}")
        if package in ("sandbox", "connectors") and head == "scoring" and inner != "records":
            found.append(f"{name}: {package} knows the record types of scoring and nothing else")
        if package == "sync" and inner is not None:
            found.append(f"{name}: sync uses the names scoring/__init__.py exports")
        private = any(part.startswith("_") for part in name.split(".")[1:])
        if head in PACKAGES and head != package and private:
            found.append(f"{name}: a private name of another package")
        if package == "sync" and head == "sandbox" and where not in SANDBOX_USERS:
            found.append(f"{name}: only the demo and the sandbox command run the sandbox")
    return sorted(set(found))


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    assert problems(path) == []


@pytest.mark.parametrize(
    ("package", "line", "wrong"),
    [
        ("sync", "import scoring.frames", True),
        ("sync", "from scoring import frames", True),
        ("sync", "from scoring import engine as e", True),
        ("sync", "from scoring import RuleSet", False),
        ("sync", "from scoring import _private", True),
        ("sync", "__import__('scoring.engine')", True),
        ("sync", "from importlib import import_module\nimport_module('scoring.frames')", True),
        ("sync", "import importlib\nimportlib.import_module('scoring.engine')", True),
        ("connectors", "from scoring.frames import ContactFrame", True),
        ("connectors", "from scoring.records import Contact", False),
        ("connectors", "def f():\n    from sync import app", True),
        ("sandbox", "import scoring", True),
        ("sandbox", "from scoring import Contact", True),
        ("sandbox", "from scoring.records import ActivityType", False),
        ("scoring", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import sync", True),
    ],
)
def test_the_import_rules_catch_what_they_forbid(package: str, line: str, wrong: bool) -> None:
    module = ROOT / package / "probe.py"

    found = problems(module, imports_in(line, "probe.py"))

    assert bool(found) is wrong, found


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


def top_level_names(tree: ast.Module) -> list[str]:
    """Names a module defines at its top level, in `if` and `try` blocks and tuples too."""
    names: list[str] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
        elif isinstance(node, ast.If | ast.Try):
            pending += [*node.body, *node.orelse]
            if isinstance(node, ast.Try):
                pending += [*node.finalbody, *(s for h in node.handlers for s in h.body)]
    return names


def test_each_top_level_name_means_one_thing_across_the_product() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for path in modules():
        for name in set(top_level_names(ast.parse(path.read_text("utf-8")))):
            if not name.startswith("_") and name != "log":
                homes[name].append(str(path.relative_to(ROOT)))
    twice = {name: places for name, places in homes.items() if len(places) > 1}
    assert twice == {}
