"""`leadscore package --target lambda`: the deployment zip of the Lambda function.

The zip holds the project's packages and every distribution the `leadscore`
distribution needs at run time (its requirements, those of the extras asked for, and
theirs in turn, as `importlib.metadata` lists them), copied from the environment the
command runs in: no download, so it works offline. Test and development tools are no
requirement of it and stay out; so do the distributions' own `__pycache__` folders
(their bytecode is made anew, below), and within each distribution what the handler
never reads (C headers, Cython sources, bundled test suites: `LEFT_OUT`).

The compiled parts are the running interpreter's: run the command with the Python
and on the platform of the Lambda runtime (python3.12 on Linux x86_64 for
docs/deploy/template.yaml), which it checks. From another system, build the folder
with pip's cross-platform install instead and zip it (docs/deploy/aws.md):

    pip install --platform manylinux2014_x86_64 --implementation cp \\
        --python-version 3.12 --only-binary=:all: --target build/ ".[postgres]"

The zip also holds what a cold start would otherwise make on every start, since the
function's folder (/var/task) is read-only and nothing made there is kept: the bytecode
of every module (`compile_bytecode`; the other distributions' modules as bytecode alone,
which is what keeps the zip within the limit below) and the rule file's cached data
(`scoring.rulecache`, so that no YAML is read). Both are made in a staging folder that
holds exactly the zip's files, then zipped. The bytecode is the running interpreter's,
as the compiled parts are: an interpreter of another version ignores it.

Lambda takes at most 250 MB unzipped (function code and layers together:
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); the command
refuses to write a zip that is larger, naming the largest distributions. Past that
limit the container-image route (10 GB) is the one left.
"""

from __future__ import annotations

import compileall
import importlib.metadata as metadata
import platform
import py_compile
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib.util import cache_from_source
from pathlib import Path, PurePosixPath
from typing import Any

from sync.errors import ConfigError

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
"""Bytes: Lambda's limit on a function's code, unzipped, layers included."""
PROJECT_PACKAGES = ("connectors", "sandbox", "scoring", "sync")
RULES_NAME = "leadscore.yaml"
"""The rule file's name in the zip: the setting's default, read from /var/task."""
LAMBDA_EXTRAS = ("postgres",)
"""A Lambda function's disk does not last: its state store is PostgreSQL."""
LEFT_OUT = re.compile(
    r"(^|/)(__pycache__|tests?|include|benchmarks)/|\.(pyc|pyx|pxd|pxi|pyi|h|hpp|cc|cpp|c)$"
)
"""Paths within a distribution the handler never reads: caches, tests, sources, stubs."""
CLI_ONLY = frozenset(
    {"typer", "shellingham", "pygments", "markdown-it-py", "mdurl", "annotated-doc"}
    | {"uvicorn", "h11", "click"}
)
"""Distributions only the command line (and rich's Markdown and syntax output) and the
webhook server (`leadscore serve`) import."""
SQLITE_ONLY = frozenset({"adbc-driver-sqlite"})
"""Distributions that read a SQLite store, which a Lambda function does not keep (its
state is on PostgreSQL; `sync.columns` reads a SQLite store without ADBC if it must)."""
UNUSED = re.compile(
    r"^pyarrow/("
    r"lib(arrow_flight|arrow_s3|arrow_python_flight|arrow_python_parquet_encryption)\.so[.0-9]*"
    r"|libarrow_python\.so(\.[0-9]+\.[0-9]+\.[0-9]+)?"
    r"|_(flight|s3fs|gcsfs|azurefs|hdfs|orc|dataset_orc|pyarrow_cpp_tests|substrait"
    r"|parquet_encryption|dataset_parquet_encryption|csv|json|feather|dataset"
    r"|dataset_parquet|parquet|fs|acero|cuda)\.cpython[^/]*"
    r")$"
    r"|^hubspot/(cms|automation|communication_preferences|conversations|files|oauth|settings"
    r"|webhooks|marketing/(emails|events|forms|transactional)"
    r"|crm/(commerce|companies|contacts|exports|extensions|imports|line_items|lists|owners"
    r"|pipelines|products|quotes|schemas|tickets|timeline))/"
    r"|^numpy/(f2py|_pyinstaller)/"
    r"|^numpy/_core/_(simd|multiarray_tests|rational_tests|umath_tests|struct_ufunc_tests"
    r"|operand_flag_tests)\."
    r"|^sqlalchemy/(testing|orm|ext|dialects/(mssql|mysql|oracle))/"
    r"|^lxml/objectify\."
)
"""Parts of distributions no code path of the function loads, measured on a scheduled run
and the webhooks (the modules imported, the shared objects mapped): pyarrow's file
format, dataset, file system, Flight, cloud storage and encryption modules (the handler
reads no file; `sync.columns` uses the core library and compute), lxml's objectify
(zeep uses etree), and the two extra copies of libarrow_python a wheel's
symlinks turn into (the modules link `libarrow_python.so.<major>`); the HubSpot SDK's
APIs other than those `connectors/hubspot` calls through the SDK (crm objects, contacts
among them, properties, deals, associations; events), each loaded only when used (the
forms and deal pipelines lists are plain GETs);
numpy's test modules and f2py; SQLAlchemy's test kit, its ORM and extensions (the store
is SQLAlchemy core: tests/sync/web/test_cold_imports.py) and the dialects of servers the
store does not run on (the store is SQLite or PostgreSQL).
The zip's own test runs the handler from the unzipped folder alone."""
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


@dataclass
class Packaged:
    """What went into the zip."""

    path: Path
    unzipped: int = 0
    zipped: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    """Unzipped bytes per distribution (the project's packages as "leadscore")."""
    interpreter: str = ""
    uncompiled: list[str] = field(default_factory=list)
    """Modules whose source did not compile (none expected: such a module cannot be
    imported either)."""
    rules_cached: bool = False
    """Whether the rule file's data is in the zip (`scoring.rulecache`)."""

    def said(self) -> str:
        compiled = "bytecode for every module"
        if self.uncompiled:
            shown = ", ".join(self.uncompiled[:3]) + (", ..." if len(self.uncompiled) > 3 else "")
            compiled = f"bytecode for all modules but {len(self.uncompiled)} ({shown})"
        rules = "the rule file's data cached" if self.rules_cached else "no rule file cache"
        return (
            f"{self.path}: {self.zipped / 2**20:.1f} MB zipped, {self.unzipped / 2**20:.1f} MB "
            f"unzipped of Lambda's {LAMBDA_UNZIPPED_LIMIT / 2**20:.0f} MB; "
            f"built with {self.interpreter}; {compiled}; {rules}"
        )

    def note(self, runtime: str) -> str:
        return (
            f"note: the runtime {runtime} on x86_64 needs its own compiled parts: build on "
            "it, or with pip --platform (docs/deploy/aws.md)"
        )

    def largest(self, count: int = 5) -> list[tuple[str, int]]:
        return sorted(self.sizes.items(), key=lambda kv: -kv[1])[:count]


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def wanted(requirement: str, extras: Iterable[str]) -> tuple[str, set[str]] | None:
    """The distribution a requirement line names and its extras, if it applies here."""
    found = _NAME.match(requirement)
    if found is None:
        return None
    marker = requirement.partition(";")[2].strip()
    chosen = {normal(e) for e in extras}
    extra = _EXTRA.search(marker)
    if extra is not None and normal(extra.group(1)) not in chosen:
        return None
    if marker and not marker_holds(marker, chosen):
        return None
    asked = {normal(e) for e in (found.group(3) or "").split(",") if e.strip()}
    return normal(found.group(1)), asked


def marker_holds(marker: str, extras: set[str]) -> bool:
    """Whether an environment marker holds for this interpreter (with `packaging` where it
    is installed; without it, every marker but an extra's is taken to hold)."""
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    return any(Marker(marker).evaluate({"extra": e}) for e in (extras or {""}))


def closure(root: str, extras: Iterable[str]) -> list[metadata.Distribution]:
    """`root` and every distribution it needs with `extras`, each once."""
    found: dict[str, metadata.Distribution] = {}
    pending = [(normal(root), set(map(normal, extras)))]
    while pending:
        name, asked = pending.pop()
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise ConfigError(f"{name} is needed but not installed here") from None
        found[name] = dist
        for line in dist.requires or ():
            needed = wanted(line, asked)
            if needed is not None and needed[0] not in found:
                pending.append(needed)
    return list(found.values())


def distribution_files(dist: metadata.Distribution) -> Iterator[tuple[Path, str]]:
    """A distribution's installed files as (where, name in the zip), within site-packages."""
    if dist.files is None:
        raise ConfigError(f"{dist.metadata['Name']} lists no files (no RECORD); reinstall it")
    for entry in dist.files:
        posix = PurePosixPath(str(entry))
        name = str(posix)
        if (
            ".." in posix.parts
            or LEFT_OUT.search(name)
            or UNUSED.match(name)
            or name.endswith(".pth")
        ):
            continue
        where = Path(str(dist.locate_file(entry)))
        if where.is_file():
            yield where, name


def project_files() -> Iterator[tuple[Path, str]]:
    """The project's packages as this interpreter imports them, data files included."""
    import sync

    root = Path(sync.__file__).resolve().parents[1]
    for package in PROJECT_PACKAGES:
        for where in sorted((root / package).rglob("*")):
            name = where.relative_to(root).as_posix()
            if where.is_file() and not LEFT_OUT.search(name):
                yield where, name


def interpreter_tag() -> str:
    return f"python{sys.version_info[0]}.{sys.version_info[1]} {sys.platform} {platform.machine()}"


def compile_bytecode(folder: Path) -> list[str]:
    """Compile every module under `folder` for the running interpreter; the names
    (relative to `folder`) of those that do not compile.

    The project's packages keep their sources, with the bytecode in the `__pycache__`
    beside them. Every other distribution's module is shipped as bytecode alone (the
    `module.pyc` that replaces `module.py`, which Python imports without a source): the
    room its source took holds the bytecode, and the zip stays within Lambda's limit.
    A module that does not compile keeps its source.

    The bytecode is hash-based and unchecked (PEP 552): the import system uses it
    without looking at the source's modification time or contents. The default,
    timestamp-based bytecode holds the source's mtime and size and is used only while
    they match; an unzipped function's files carry whatever times the zip and the
    platform give them (a zip keeps times to 2 s, and /var/task cannot be written to
    store a fresh copy), so such bytecode could be ignored and every module compiled
    from source on each cold start. A checked hash would be safe but read and hash each
    source on every import. Unchecked is right here because the folder is never
    edited: a new version is a new zip, built with its own bytecode."""
    packages = "|".join(map(re.escape, PROJECT_PACKAGES))
    ours = re.compile(rf"^{re.escape(str(folder))}/({packages})/")
    options: dict[str, Any] = {
        "quiet": 2,
        "stripdir": str(folder),  # the names inside, as in the zip: no build machine's path
        "optimize": 0,  # as the runtime imports (no -O)
        "workers": 0,
        "invalidation_mode": py_compile.PycInvalidationMode.UNCHECKED_HASH,
    }
    prefix, sys.pycache_prefix = sys.pycache_prefix, None  # beside the sources, to be zipped
    try:
        compileall.compile_dir(folder, rx=ours, legacy=True, **options)
        for package in PROJECT_PACKAGES:
            if (folder / package).is_dir():
                compileall.compile_dir(folder / package, **options)
        failed = []
        for source in folder.rglob("*.py"):
            name = source.relative_to(folder).as_posix()
            if ours.match(str(source)):
                if not Path(cache_from_source(str(source), optimization="")).is_file():
                    failed.append(name)
            elif source.with_suffix(".pyc").is_file():
                source.unlink()
            else:
                failed.append(name)
        return sorted(failed)
    finally:
        sys.pycache_prefix = prefix


def cache_rules(path: Path, shown: Path) -> bool:
    """Read the rule file at `path` once, so that `scoring.rulecache` keeps its data
    beside it; whether an entry is there now (a file whose data JSON cannot hold exactly
    has none). A file that does not validate is a ConfigError naming `shown`."""
    from scoring import RuleFileError, cached_data, load_rules

    try:
        load_rules(path)
    except RuleFileError as exc:
        raise ConfigError(
            [str(replace(p, file=str(shown))) for p in exc.problems] or [f"--rules: {shown}"]
        ) from None
    return cached_data(path, path.read_bytes()) is not None


def source_label(name: str, labels: dict[str, str]) -> str:
    """The distribution a staged file belongs to: its own, or its source's for bytecode."""
    posix = PurePosixPath(name)
    if posix.suffix == ".pyc":
        if posix.parent.name == "__pycache__":
            module = posix.name.split(".")[0]
            return labels.get(str(posix.parent.parent / f"{module}.py"), "leadscore")
        return labels.get(str(posix.with_suffix(".py")), "leadscore")
    return labels.get(name, "leadscore")


def lambda_zip(
    out: Path,
    *,
    rules: Path | None = None,
    extras: Iterable[str] = LAMBDA_EXTRAS,
    limit: int = LAMBDA_UNZIPPED_LIMIT,
) -> Packaged:
    """Write the deployment zip at `out`, with the rule file `rules` as `leadscore.yaml`
    at its root (the function's working directory) and its cached data, and the bytecode
    of every module; ConfigError (and no zip) past `limit` bytes."""
    entries: dict[str, tuple[Path, str]] = {}
    if rules is not None:
        if not rules.is_file():
            raise ConfigError(f"--rules: no file at {rules}")
        entries[RULES_NAME] = (rules, "leadscore")
    for where, name in project_files():
        entries[name] = (where, "leadscore")
    for dist in closure("leadscore", extras):
        label = normal(dist.metadata["Name"])
        if label == "leadscore" or label in CLI_ONLY | SQLITE_ONLY:
            continue  # an editable install's files are links to the packages above
        for where, name in distribution_files(dist):
            entries.setdefault(name, (where, label))
    labels = {name: label for name, (_, label) in entries.items()}
    packaged = Packaged(out, interpreter=interpreter_tag())
    with tempfile.TemporaryDirectory(prefix="leadscore-package-") as folder:
        stage = Path(folder)
        for name, (where, _) in entries.items():  # the rule file first: said before the rest
            (stage / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(where, stage / name)
            if rules is not None and name == RULES_NAME:
                packaged.rules_cached = cache_rules(stage / RULES_NAME, rules)
        packaged.uncompiled = compile_bytecode(stage)
        staged = sorted(
            (where.relative_to(stage).as_posix(), where)
            for where in stage.rglob("*")
            if where.is_file()
        )
        for name, where in staged:
            size = where.stat().st_size
            label = source_label(name, labels)
            packaged.unzipped += size
            packaged.sizes[label] = packaged.sizes.get(label, 0) + size
        if packaged.unzipped > limit:
            largest = ", ".join(f"{n} {s / 2**20:.0f} MB" for n, s in packaged.largest())
            raise ConfigError(
                [
                    f"the function would be {packaged.unzipped / 2**20:.0f} MB unzipped, over "
                    f"Lambda's {limit / 2**20:.0f} MB; largest: {largest}",
                    "deploy it as a container image instead (docs/deploy/aws.md)",
                ]
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for name, where in staged:
                archive.write(where, name)
        partial.replace(out)
    packaged.zipped = out.stat().st_size
    return packaged
