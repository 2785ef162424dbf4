"""Loopback helpers for starting a server in benches and tests: a free port, waiting for it to answer, and
the processes it started."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def children(pid: int) -> list[int]:
    """The child processes of ``pid``, started by any of its threads (a process pool may start its
    processes from any thread; Linux /proc)."""
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
