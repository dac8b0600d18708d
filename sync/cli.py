"""The `leadscore` command line."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from sync.backtest_cli import backtest_command
from sync.calibrate_cli import calibrate_command
from sync.console import RulesOption, TenantOption, choose, err, fail, out, rules_from, settings
from sync.errors import EXIT_FAILED, EXIT_PARTIAL, ConfigError, SyncError
from sync.history_cli import explain_command, history_command
from sync.privacy_cli import export_command, forget_command
from sync.report_cli import report_command
from sync.score_cli import score_command
from sync.setup_cli import setup_command
from sync.tenants_cli import each_command, tenants_command

if TYPE_CHECKING:
    from collections.abc import Iterator

    from scoring import RuleSet
    from sync.app import Leadscore
    from sync.pipeline import Progress

app = typer.Typer(
    name="leadscore",
    help="Score leads from rules in a YAML file and sync the scores to your CRMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def validate(
    rules: Annotated[Path | None, typer.Argument(help="Rule file to check.")] = None,
) -> None:
    """Check a rule file; exit 2 with file, line and field of each error."""
    path = rules or settings().rules
    ruleset = rules_from(path)
    stages = len(ruleset.stages.ladder) if ruleset.stages else 0
    out.print(
        f"[green]ok[/green] {path}: {len(ruleset.rules)} rules, "
        f"{len(ruleset.dimensions)} dimensions ({', '.join(ruleset.dimensions)}), "
        f"{stages} stages",
        highlight=False,
    )


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Print the JSON Schema of rule files, for editor completion and checks."""
    import json

    from scoring import RuleSet

    document = RuleSet.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "leadscore rule file"
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, "utf-8")
        out.print(f"wrote {output}", highlight=False)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the files.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite files that exist.")] = False,
) -> None:
    """Write a commented leadscore.yaml and a .env to start from."""
    from scoring import default_rules_text
    from sync.settings import env_example

    files = {directory / "leadscore.yaml": default_rules_text(), directory / ".env": env_example()}
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        fail(f"{', '.join(existing)} already exists; use --force to overwrite")
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, "utf-8")
        out.print(f"wrote {path}", highlight=False)
    out.print(f"next: edit {directory / 'leadscore.yaml'}, then `leadscore validate`")
    out.print("its points are guesses; `leadscore calibrate` fits them to your own outcomes")


app.command("score")(score_command)
app.command("backtest")(backtest_command)
app.command("calibrate")(calibrate_command)
app.command("report")(report_command)


@app.command()
def sandbox(
    people: Annotated[int, typer.Option(help="People in the synthetic world (0: empty).")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the world and of the fault plans.")] = 7,
    scale: Annotated[
        float, typer.Option(help="Vendor seconds per real second (rate windows, latency).")
    ] = 1.0,
    latency_ms: Annotated[float, typer.Option(help="Added latency per request.")] = 0.0,
    tier: Annotated[str, typer.Option(help="HubSpot tier: free, starter, professional, ...")] = (
        "professional"
    ),
    port: Annotated[
        int,
        typer.Option(
            help="Base port: HubSpot on PORT, Salesforce on PORT+1, Mailchimp on PORT+2 "
            "(0: any free ports)."
        ),
    ] = 0,
    real_clock: Annotated[
        bool,
        typer.Option(
            "--real-clock",
            help="Move the world to end now, so that `leadscore sync` (which scores as of "
            "the machine's clock) writes what the demo writes.",
        ),
    ] = False,
) -> None:
    """Serve local HubSpot, Salesforce and Mailchimp emulators.

    Serve local HubSpot, Salesforce and Mailchimp emulators until stopped (Ctrl-C), and
    print the .env lines that point leadscore at them."""
    from sync.sandbox_command import SandboxOptions, serve_sandbox

    options = SandboxOptions(people, seed, scale, latency_ms, tier, port, real_clock)
    try:
        serve_sandbox(out, options)
    except ConfigError as exc:
        fail(exc.lines)
    except KeyboardInterrupt:
        out.print("stopped")


# -- the sync ----------------------------------------------------------------------------------


@contextlib.contextmanager
def opened(
    rules: Path | RuleSet | None, progress: Progress | None = None, *, need_systems: bool = True
) -> Iterator[Leadscore]:
    """The application from settings, with every failure a line and an exit code, no traceback."""
    import sqlalchemy.exc

    from connectors.errors import ApiError
    from sync.app import Leadscore, store_problem
    from sync.locks import LockHeld
    from sync.logs import configure

    config = settings()
    configure(config.log_format, config.log_level)
    try:
        application = Leadscore.open(
            config,
            rules=rules,  # a file is read by `open`, which keeps its text
            progress=progress,
            need_systems=need_systems,
        )
    except SyncError as exc:
        fail(exc.lines, code=exc.exit_code)
    try:
        with application:
            yield application
    except LockHeld as exc:
        # Another run is at work: a scheduled run that finds it so has nothing to do.
        err.print(escape("; ".join(exc.lines)), highlight=False)
        raise typer.Exit(exc.exit_code) from None
    except SyncError as exc:
        fail(exc.lines, code=exc.exit_code)
    except ApiError as exc:
        fail(str(exc), code=EXIT_FAILED)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        # A full disk or a store gone read-only mid-run: said plainly, the driver's text
        # (which may quote contacts' data) kept out.
        fail(store_problem(exc), code=EXIT_FAILED)
    finally:
        # A store this command created and left empty is not left behind.
        application.store.discard_if_unused()


@contextlib.contextmanager
def progress_bars() -> Iterator[Progress | None]:
    """Progress on a terminal (one line per stream); nothing when output is piped."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import Progress as Bars
    from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

    with Bars(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bars:
        tasks: dict[str, object] = {}
        lock = threading.Lock()

        def advance(what: str, count: int) -> None:
            with lock:
                if what not in tasks:
                    tasks[what] = bars.add_task(what, total=None)
            bars.update(tasks[what], advance=count)  # type: ignore[arg-type]

        yield advance


@app.command()
def sync(
    rules: RulesOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Pull everything, not only changes.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be written; write nothing.")
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option(
            help="A trial: N contacts per system, each fetched with all its activity, "
            "at most N written; no cursor moves."
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            help="Seconds to wait when another run holds the store's lock; then (or at once) "
            "exit 0 with 'skipped'."
        ),
    ] = 0.0,
    max_seconds: Annotated[
        float | None,
        typer.Option(
            "--max-seconds",
            help="Return within N seconds: stop pulling in time to write what was pulled, "
            "stop writing at N; the next run takes up the rest (exit 3 when cut short).",
        ),
    ] = None,
    shadow: Annotated[
        Path | None,
        typer.Option(
            help="Score with this rule file too, write nothing from it (but with --shadow-write), "
            "and print how its ranking differs from the live rules'."
        ),
    ] = None,
    shadow_top: Annotated[
        int, typer.Option(min=0, help="With --shadow: how many of the biggest rank moves to list.")
    ] = 10,
    shadow_write: Annotated[
        bool,
        typer.Option(
            "--shadow-write",
            help="With --shadow: write its score, stage and grade to fields of their own "
            "(LEADSCORE_SHADOW_FIELD_PREFIX; `leadscore setup --shadow FILE` creates them).",
        ),
    ] = False,
    tenant: TenantOption = None,
    system: Annotated[
        str | None,
        typer.Option(
            help="Sync this system alone: pull it, score with the whole store, write to it; "
            "the lock of this system alone is taken."
        ),
    ] = None,
) -> None:
    """Pull changes, score, and write back only what changed."""
    import math
    import time
    from dataclasses import replace

    from sync.console import elsewhere
    from sync.report import print_plan, print_summary
    from sync.shadow import print_shadow
    from sync.summary import SyncOptions

    choose(tenant, system)
    if limit is not None and limit < 1:
        fail("--limit: expected a positive number")
    if max_seconds is not None and not (0 < max_seconds < math.inf):
        fail("--max-seconds: expected a positive number of seconds")
    if shadow_write and shadow is None:
        fail("--shadow-write: give the shadow rule file with --shadow FILE")
    shadow_rules = None if shadow is None else rules_from(shadow)  # exit 2 before any call
    # The moment is taken before the settings are read: everything counts against it.
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    with progress_bars() as progress, opened(rules, progress) as application:
        application.job.elsewhere = elsewhere()
        options = SyncOptions(
            full=full, dry_run=dry_run, limit=limit, wait=max(0.0, wait), deadline=deadline,
            shadow=shadow_rules, shadow_name=str(shadow), shadow_top=shadow_top,
        )  # fmt: skip
        if shadow_write and shadow_rules is not None:
            maps = application.shadow_fields(shadow_rules)
            options = replace(options, shadow_fields=maps)
        summary = application.sync(options)
    if dry_run:
        print_plan(out, summary)
    print_summary(out, summary)
    if summary.shadow is not None:
        print_shadow(out, summary.shadow)
    if summary.status == "partial":
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def rescore(
    who: Annotated[
        str,
        typer.Argument(
            metavar="SYSTEM:RECORD_ID", help="The record to rescore, such as hubspot:12345."
        ),
    ],
    rules: RulesOption = None,
) -> None:
    """Rescore one contact now and write what changed.

    Rescore one contact now and write what changed, as a CRM's webhook asks; while a
    sync runs, leave it to the sync (`queued`)."""
    from sync.report import print_rescored
    from sync.trigger import parse_record

    try:
        parse_record(who)  # said before settings, rules or the store are read
    except SyncError as exc:
        fail(exc.lines, code=exc.exit_code)
    with opened(rules) as application:
        result = application.rescore(who)
    print_rescored(out, result)


def store_rules(rules: Path | None) -> RuleSet | None:
    """The rule file for a command that mainly reads the store, or None when the default
    file is missing: `status` and `explain` still read the store without one."""
    if rules is not None:
        return rules_from(rules)
    path = settings().rules
    return rules_from(path) if path.exists() else None


def bundled_rules() -> RuleSet:
    from scoring import default_rules_text, parse_rules

    return parse_rules(default_rules_text(), "default.yaml")


app.callback()(each_command)
app.command("setup")(setup_command)
app.command("tenants")(tenants_command)
app.command("explain")(explain_command)
app.command("history")(history_command)
app.command("forget")(forget_command)
app.command("export")(export_command)


@app.command()
def status(rules: RulesOption = None, tenant: TenantOption = None) -> None:
    """Show the last runs, cursors, failed writes and data held.

    Last runs, cursors, failed writes and the oldest data held, from the state store (no
    rule file needed)."""
    from sync.report import print_status
    from sync.retention import print_retention

    choose(tenant)
    ruleset = store_rules(rules)
    with opened(ruleset or bundled_rules(), need_systems=False) as application:
        systems = [c.system for c in application.connectors]
        now = application.job.clock().timestamp()
        print_status(out, application.store, systems, rules=ruleset, at=now)
        print_retention(out, application)


@app.command()
def demo(
    people: Annotated[int, typer.Option(help="People in the synthetic world.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed of the world and of the new activity.")] = 7,
    rules: Annotated[
        Path | None, typer.Option("--rules", "-r", help="Rule file (default: the demo's).")
    ] = None,
    report: Annotated[
        Path, typer.Option(help="Where the HTML report of the demo's store is written.")
    ] = Path("leadscore-demo-report.html"),
) -> None:
    """Run the demo on local sandboxes of the three CRMs.

    Sync the local HubSpot, Salesforce and Mailchimp sandboxes: setup, full, incremental;
    then write the HTML report. The demo's rules: the bundled ones, RFM, accounts, capacity."""
    from connectors.errors import ApiError
    from sync.demo import demo_rules, run_demo
    from sync.report_command import check_out

    check_out(report, "--report")  # before the sandboxes start
    ruleset = rules_from(rules) if rules else demo_rules()
    try:
        with progress_bars() as progress:
            run_demo(out, ruleset, people=people, seed=seed, progress=progress, report_to=report)
    except SyncError as exc:
        fail(exc.lines, code=exc.exit_code)
    except ApiError as exc:
        fail(str(exc), code=EXIT_FAILED)


@app.command("serve")
def serve_webhooks_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every one).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8080,
) -> None:
    """Answer the CRMs' webhooks over HTTP.

    Answer the CRMs' webhooks (rescore a contact when one asks) over HTTP, until
    SIGTERM or Ctrl-C; /healthz and /metrics besides."""
    from sync.logs import configure
    from sync.web.serve import listening_socket, serve_webhooks

    config = settings()
    configure(config.log_format, config.log_level)
    rules_from(config.rules)  # a bad rule file is said now, not on the first webhook
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", code=EXIT_FAILED)
    try:
        serve_webhooks(config, sock)
    except KeyboardInterrupt:
        out.print("stopped")
    finally:
        sock.close()


@app.command()
def package(
    target: Annotated[str, typer.Option(help="What to build for: lambda.")] = "lambda",
    out_path: Annotated[Path, typer.Option("--out", help="The zip to write.")] = Path(
        "leadscore-lambda.zip"
    ),
    runtime: Annotated[str, typer.Option(help="The Lambda runtime it is for.")] = "python3.12",
    rules: Annotated[
        Path | None,
        typer.Option("--rules", "-r", help="Rule file to ship as leadscore.yaml (its default)."),
    ] = None,
) -> None:
    """Build the AWS Lambda deployment zip from this environment (docs/deploy/aws.md)."""
    from sync.package import lambda_zip

    if target != "lambda":
        fail("--target: expected lambda")
    try:
        built = lambda_zip(out_path, rules=rules)
    except ConfigError as exc:
        fail(exc.lines, code=exc.exit_code)
    out.print(escape(built.said()))
    if built.interpreter != f"{runtime} linux x86_64":
        err.print(escape(built.note(runtime)), highlight=False)


def main() -> None:
    app()
