"""The app factory of a worker process when `arenapref serve --workers N` runs several.

uvicorn starts each worker as a fresh process that imports :func:`app`; the run and the settings come
from the parent through one environment variable (JSON), since a factory takes no arguments. Every
worker loads the run itself (checked against its manifest, as every load is) and serves the same
routes; the kernel spreads connections over the workers, which share the listening socket.
"""

from __future__ import annotations

import json
import os
from typing import Any

from fastapi import FastAPI

from arenapref.api import load
from arenapref.serve.app import create_app
from arenapref.serve.procs import started
from arenapref.serve.settings import Limits

ENV = "ARENAPREF_SERVE_WORKER"


def settings(run: str, *, swap_tta: bool | None, limits: Limits, max_batch: int, model_processes: int = 0) -> str:
    """What the parent puts into :data:`ENV` for its workers."""
    return json.dumps({"run": run, "swap_tta": swap_tta, "limits": limits.as_dict(), "max_batch": max_batch,
                       "model_processes": model_processes})


def app() -> FastAPI:
    raw = os.environ.get(ENV)
    if raw is None:
        raise RuntimeError(f"{ENV} is not set: start workers with `arenapref serve --workers N`")
    given: dict[str, Any] = json.loads(raw)
    judge = load(given["run"], swap_tta=given["swap_tta"])
    return create_app(judge, limits=Limits(**given["limits"]), max_batch=given["max_batch"],
                      model_processes=started(given["run"], given["swap_tta"], given["model_processes"]))
