"""`leadscore package --target lambda`: the deployment zip of the Lambda function.

The zip holds the project's packages and every distribution the `leadscore`
distribution needs at run time (its requirements, those of the extras asked for, and
theirs in turn, as `importlib.metadata` lists them), copied from the environment the
command runs in: no download, so it works offline. Test and development tools are no
requirement of it and stay out; so do the `__pycache__` folders, and within each
distribution what the handler never reads (C headers, Cython sources, bundled test
suites: `LEFT_OUT`).

The compiled parts are the running interpreter's: run the command with the Python
and on the platform of the Lambda runtime (python3.12 on Linux x86_64 for
docs/deploy/template.yaml), which it checks. From another system, build the folder
with pip's cross-platform install instead and zip it (docs/deploy/aws.md):

    pip install --platform manylinux2014_x86_64 --implementation cp \\
        --python-version 3.12 --only-binary=:all: --target build/ ".[postgres]"

Lambda takes at most 250 MB unzipped (function code and layers together:
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); the command
refuses to write a zip that is larger, naming the largest distributions. Past that
limit the container-image route (10 GB) is the one left.
"""

from __future__ import annotations

import importlib.metadata as metadata
import platform
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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
UNUSED = re.compile(
    r"^pyarrow/("
    r"lib(arrow_flight|arrow_s3|arrow_python_flight|arrow_python_parquet_encryption)\.so[.0-9]*"
    r"|libarrow_python\.so(\.[0-9]+\.[0-9]+\.[0-9]+)?"
    r"|_(flight|s3fs|gcsfs|azurefs|hdfs|orc|dataset_orc|pyarrow_cpp_tests|substrait"
    r"|parquet_encryption|dataset_parquet_encryption|csv|json|feather|dataset"
    r"|dataset_parquet|parquet|fs|acero|cuda)\.cpython[^/]*"
    r")$"
    r"|^hubspot/(cms|automation|communication_preferences|conversations|files|oauth|settings"
    r"|webhooks|marketing/(emails|events|transactional)"
    r"|crm/(commerce|companies|exports|extensions|imports|line_items|lists|owners|products"
    r"|quotes|schemas|tickets|timeline))/"
    r"|^numpy/(f2py|_pyinstaller)/"
    r"|^numpy/_core/_(simd|multiarray_tests|rational_tests|umath_tests|struct_ufunc_tests"
    r"|operand_flag_tests)\."
    r"|^sqlalchemy/(testing|dialects/(mssql|mysql|oracle))/"
    r"|^lxml/objectify\."
)
"""Parts of distributions no code path of the function loads, measured on a scheduled run
and the webhooks (the modules imported, the shared objects mapped): pyarrow's file
format, dataset, file system, Flight, cloud storage and encryption modules (the handler
reads no file; `sync.columns` uses the core library and compute), lxml's objectify
(zeep uses etree), and the two extra copies of libarrow_python a wheel's
symlinks turn into (the modules link `libarrow_python.so.<major>`); the HubSpot SDK's
APIs other than those `connectors/hubspot` calls (crm contacts, objects, properties,
deals, associations, pipelines; marketing forms; events), each loaded only when used;
numpy's test modules and f2py; SQLAlchemy's test kit and the dialects of servers the
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

    def said(self) -> str:
        return (
            f"{self.path}: {self.zipped / 2**20:.1f} MB zipped, {self.unzipped / 2**20:.1f} MB "
            f"unzipped of Lambda's {LAMBDA_UNZIPPED_LIMIT / 2**20:.0f} MB; "
            f"built with {self.interpreter}"
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


def lambda_zip(
    out: Path,
    *,
    rules: Path | None = None,
    extras: Iterable[str] = LAMBDA_EXTRAS,
    limit: int = LAMBDA_UNZIPPED_LIMIT,
) -> Packaged:
    """Write the deployment zip at `out`, with the rule file `rules` as `leadscore.yaml`
    at its root (the function's working directory); ConfigError (and no zip) past
    `limit` bytes."""
    entries: dict[str, tuple[Path, str]] = {}
    if rules is not None:
        if not rules.is_file():
            raise ConfigError(f"--rules: no file at {rules}")
        entries[RULES_NAME] = (rules, "leadscore")
    for where, name in project_files():
        entries[name] = (where, "leadscore")
    for dist in closure("leadscore", extras):
        label = normal(dist.metadata["Name"])
        if label == "leadscore" or label in CLI_ONLY:
            continue  # an editable install's files are links to the packages above
        for where, name in distribution_files(dist):
            entries.setdefault(name, (where, label))
    packaged = Packaged(out, interpreter=interpreter_tag())
    for where, label in entries.values():
        size = where.stat().st_size
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
        for name, (where, _) in sorted(entries.items()):
            archive.write(where, name)
    partial.replace(out)
    packaged.zipped = out.stat().st_size
    return packaged
