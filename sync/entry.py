"""The start of a process leadscore owns: the `leadscore` command (`python -m sync`) and
the serverless handlers (`sync.web.aws`, `sync.web.gcp`), set up before any pydantic
model is built."""

from __future__ import annotations

import os


def own_process() -> None:
    """pydantic looks for plugins in the entry points of every installed distribution
    when it builds its first model: about 60 ms of a command's start in a typical
    environment, for plugins leadscore never uses. Off, unless the environment names
    `PYDANTIC_DISABLE_PLUGINS` itself (empty: plugins on). A library caller (the Airflow
    DAG factory, a notebook) keeps its own setting: only these entry points call this."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def leadscore() -> None:
    """The `leadscore` command."""
    own_process()
    from sync.cli import main

    main()
