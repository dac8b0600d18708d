"""leadscore on Apache Airflow: copy this file into Airflow's dags/ folder (see
docs/deploy/airflow.md). The workers need `pip install 'leadscore[airflow]'`, the pool
(`airflow pools set leadscore 4 "leadscore syncs"`) and the tenants file.

Every 15 minutes, each tenant's each system is synced by a task of its own, at most as
many at once as the pool has slots; a full pass at 02:30 waits out an incremental run of
the same tenant and system for up to 15 minutes. Each run reads the tenants file again.
"""

from datetime import timedelta

from sync.airflow import tenant_dag

TENANTS_FILE = None
"""None: LEADSCORE_TENANTS_FILE in the workers' environment (default tenants.yaml in their
working directory); or a path, such as "/srv/leadscore/tenants.yaml"."""

leadscore = tenant_dag(
    "leadscore",
    schedule="*/15 * * * *",
    pool="leadscore",
    pool_slots=1,
    retries=3,
    retry_delay=timedelta(minutes=5),
    tenants_file=TENANTS_FILE,
    execution_timeout=timedelta(minutes=14),
)

leadscore_full = tenant_dag(
    "leadscore_full",
    schedule="30 2 * * *",
    pool="leadscore",
    retries=2,
    retry_delay=timedelta(minutes=10),
    tenants_file=TENANTS_FILE,
    full=True,
    wait=900,
    execution_timeout=timedelta(hours=3),
)
