"""Waiting for a started ``arenapref serve`` process to answer (used by the load bench and the tests)."""

from __future__ import annotations

import subprocess
import time


def wait_until_healthy(base_url: str, process: subprocess.Popen, *, timeout: float = 60.0) -> None:
    """Poll ``GET /healthz`` until it answers 200; raise RuntimeError if the process dies or time runs out."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited with status {process.returncode} before answering")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not answer within {timeout:.0f} s")
        time.sleep(0.2)
