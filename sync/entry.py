"""The start of a process leadscore owns: the `leadscore` command (`python -m sync`) and
the serverless handlers (`sync.web.aws`, `sync.web.gcp`), set up before any pydantic
model is built."""

from __future__ import annotations

import gc
import os


def own_process() -> None:
    """pydantic looks for plugins in the entry points of every installed distribution
    when it builds its first model: about 60 ms of a command's start in a typical
    environment, for plugins leadscore never uses. Off, unless the environment names
    `PYDANTIC_DISABLE_PLUGINS` itself (empty: plugins on). A library caller (the Airflow
    DAG factory, a notebook) keeps its own setting: only these entry points call this."""
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


SERVERLESS = ("AWS_LAMBDA_FUNCTION_NAME", "FUNCTION_TARGET", "K_SERVICE")
"""Variables the platforms set in every instance: Lambda's
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)
and Cloud Functions' (https://cloud.google.com/functions/docs/configuring/env-var)."""
_collector_held = False


def cold_start() -> None:
    """A serverless handler's import: `own_process`, and in a Lambda or Cloud Functions
    instance (`SERVERLESS`) Python's cyclic garbage collector held off until `warmed`:
    importing the libraries a first answer needs makes hundreds of thousands of objects
    and next to no garbage, and the collector would walk them again and again (about a
    tenth of a cold answer's CPU). Imported anywhere else (a test, a script), nothing
    changes but `own_process`."""
    global _collector_held
    own_process()
    if any(os.environ.get(name) for name in SERVERLESS) and gc.isenabled():
        gc.disable()
        _collector_held = True


def warmed() -> None:
    """The first answer given (or a scheduled run about to begin): the collector runs as
    usual from here on, over what is made from now on. Every object made so far is frozen
    first (`gc.freeze`: kept out of all later collections, as a forking server does for
    what it imported): held off, the collector counted all of them as young, and its first
    pass walked them all (some 30 to 60 ms) at the next allocation, the platform's
    encoding of this very answer, before the answer was sent. What stays uncollected is
    the imports' next to no garbage and the first answer's, once per instance. Only
    acts where `cold_start` held the collector."""
    global _collector_held
    if _collector_held:
        _collector_held = False
        gc.freeze()
        gc.enable()


_command = False


def own_command() -> bool:
    """Whether this process is the `leadscore` command (not a caller of its commands in a
    process of its own: a test, a scheduler's task, a notebook)."""
    return _command


_done = False


def leave_at_once() -> None:
    """The command's work is done and said (its file written and closed, its lines
    printed): in the `leadscore` command, the process then ends without taking its
    objects apart one by one. After `leadscore score` at 1M contacts that teardown (the
    contacts' text, the frames' arrays) took 0.3 to 0.7 s of a 7 s run. Elsewhere
    (a test, a library caller) nothing changes."""
    global _done
    _done = _command


def leadscore() -> None:
    """The `leadscore` command."""
    global _command
    _command = True
    own_process()
    from sync.cli import main

    try:
        main()
    except SystemExit as end:
        if _done and end.code in (0, None):
            _end_now()
        raise
    if _done:
        _end_now()


def _end_now() -> None:
    """End the process with status 0 once what it printed is out (`os._exit`: no
    teardown); where that cannot be done (a closed pipe), nothing happens and the
    process ends as usual."""
    import logging
    import sys

    try:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(0)
