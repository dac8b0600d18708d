"""Apache Airflow: every tenant's systems synced by one DAG, one mapped task per tenant and
system (the `airflow` extra; docs/deploy/airflow.md).

A DAG file in Airflow's `dags/` folder calls `tenant_dag()` and keeps the DAG in a global:

    from sync.airflow import tenant_dag

    dag = tenant_dag(schedule="*/15 * * * *", tenants_file="/srv/leadscore/tenants.yaml")

Each run lists the tenants file's tenants and systems in a first task, then maps the sync
task over them (dynamic task mapping): a tenant added to the file is synced by the next
run, without the DAG file changing or being parsed again, and a bad tenants file fails that
one task with its file, line and field instead of making the DAG vanish from Airflow as an
import error. The mapped tasks run in a pool, which bounds how many syncs run at once
across every run and DAG that names it; the pool must exist (`airflow pools set leadscore
4 "leadscore syncs"`): Airflow never schedules a task whose pool is missing, and a DAG
cannot create one (its code has no access to Airflow's database).

A task runs `run_tenant(tenant, system)` in the worker's process and returns the run's
summary (`SyncSummary.as_dict()`), which Airflow keeps as the task's XCom `return_value`.
A tenant and system whose lock another run holds is skipped (`AirflowSkipException`); what
`leadscore sync` exits 2 on (a bad tenants file, settings or rule file, fields `leadscore
setup` has not made) fails without retries (`AirflowFailException`: a person must act);
any other error (a system or the store that did not answer) fails the try, and Airflow
tries again after `retry_delay`, `retries` times.

The sync's own modules are imported inside the tasks, so that Airflow's parsing of the DAG
file, every 30 seconds by default, loads only Airflow and this module.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

log = logging.getLogger(__name__)

DAG_START = datetime(2026, 1, 1, tzinfo=UTC)
"""The DAG's `start_date`: a moment in the past; with `catchup=False` Airflow runs only
the latest interval, never the ones before the DAG was deployed."""

TASK_LABEL = "{{ task.op_kwargs['tenant'] }}/{{ task.op_kwargs['system'] }}"
"""How Airflow's UI names each mapped task instance: `acme/hubspot`."""


def tenant_systems(tenants_file: str | None) -> list[dict[str, str]]:
    """Every tenant and system of the tenants file, in the file's order: the sync task is
    mapped over this list, one task instance per entry."""
    from sync.errors import SyncError
    from sync.tenants import read_tenants

    try:
        tenants = read_tenants(None if tenants_file is None else Path(tenants_file))
    except SyncError as bad:
        raise AirflowFailException(str(bad)) from bad
    pairs = [
        {"tenant": tenant.name, "system": system}
        for tenant in tenants.values()
        for system in tenant.systems
    ]
    log.info("%d tenants, %d syncs", len(tenants), len(pairs))
    return pairs


def sync_tenant(
    tenant: str, system: str, tenants_file: str | None, full: bool, wait: float
) -> dict[str, Any]:
    """One tenant's sync of one system, in this process; its summary is the task's result."""
    from sync.errors import EXIT_BAD_INPUT, SyncError
    from sync.locks import LockHeld
    from sync.tenants import run_tenant

    where = None if tenants_file is None else Path(tenants_file)
    try:
        summary = run_tenant(tenant, system, tenants_file=where, full=full, wait=wait)
    except LockHeld as busy:
        raise AirflowSkipException(f"{tenant}/{system}: {busy}") from busy
    except SyncError as exc:
        if exc.exit_code != EXIT_BAD_INPUT:
            raise  # the store did not answer, ...: Airflow tries again
        # settings, the rule file, fields `leadscore setup` must make: the CLI's exit 2
        raise AirflowFailException(f"{tenant}/{system}: {exc}") from exc
    log.info(
        "%s/%s: %s, %s rescored, %s changed",
        tenant,
        system,
        summary.get("status"),
        summary.get("rescored"),
        summary.get("changed"),
    )
    return summary


def tenant_dag(
    dag_id: str = "leadscore",
    *,
    schedule: str | timedelta | None = "*/15 * * * *",
    pool: str = "leadscore",
    pool_slots: int = 1,
    retries: int = 3,
    retry_delay: timedelta = timedelta(minutes=5),
    tenants_file: str | Path | None = None,
    full: bool = False,
    wait: float = 0.0,
    execution_timeout: timedelta | None = timedelta(hours=1),
    start_date: datetime = DAG_START,
) -> DAG:
    """The DAG that syncs every tenant's every system (see the module's docstring).

    `schedule`: a cron expression, a `timedelta`, or None for manual runs only.
    `pool` and `pool_slots`: the pool the sync tasks run in and the slots each takes.
    `retries` and `retry_delay`: Airflow's retries of a failed sync task.
    `tenants_file`: read by each run; None reads the `LEADSCORE_TENANTS_FILE` setting of
    the worker's environment (default `tenants.yaml` in its working directory).
    `full`: each sync a full pass (`leadscore sync --full`), for a second, nightly DAG.
    `wait`: seconds a sync waits for another run of its tenant and system before it is
    skipped (`leadscore sync --wait`): a nightly full pass waits out an incremental run.
    `execution_timeout`: how long a sync task may run before Airflow fails the try.
    Runs of the DAG never overlap (`max_active_runs=1`); syncs of one tenant and system
    never overlap either, whoever starts them (the store's lock)."""
    listed = None if tenants_file is None else str(tenants_file)
    with DAG(
        dag_id=dag_id,
        schedule=schedule,
        start_date=start_date,
        catchup=False,
        max_active_runs=1,
        tags=["leadscore"],
        doc_md=__doc__,
    ) as dag:
        pairs = task(retries=0)(tenant_systems)(listed)
        # one XCom per task: with a function typed to return a dict, Airflow would otherwise
        # push each of its keys as an XCom of its own too
        task(
            task_id="sync",
            multiple_outputs=False,
            pool=pool,
            pool_slots=pool_slots,
            retries=retries,
            retry_delay=retry_delay,
            execution_timeout=execution_timeout,
            map_index_template=TASK_LABEL,
        )(sync_tenant).partial(tenants_file=listed, full=full, wait=wait).expand_kwargs(pairs)
    return dag
