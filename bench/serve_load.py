"""A bounded load test of `arenapref serve` on loopback: N requests from C concurrent clients, then stop.

    .venv/bin/arenapref demo --out /tmp/serve_run          # once: the cpu-default gbdt run
    .venv/bin/python bench/serve_load.py --run /tmp/serve_run [--requests 2000] [--clients 16]

Starts the server as its own process on a free 127.0.0.1 port (never another address), sends
POST /v1/compare with real arena pairs (../shared/data, cycled), and prints throughput, p50/p99 latency,
the error count (anything but HTTP 200) and the server's peak RSS (VmHWM). It runs once with
micro-batching (--max-batch 32) and once without (--max-batch 1), so the table shows what batching buys.
Client and server share the machine's cores: the table has the CPU per request of each, and `--client wrk`
(Debian's wrk, a C load generator, run for --seconds) leaves the most of them to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))  # support.probe: loopback helpers shared with the tests

from support.probe import children, free_port, wait_until_healthy  # noqa: E402

from arenapref.data.locate import find_arena_dir, train_files  # noqa: E402
from arenapref.data.readers import read_pairs  # noqa: E402


def family(pid: int) -> list[int]:
    """The server process and its worker and model processes (`--workers N`, `--model-processes N`), the
    children of every thread (a process pool may start its processes from any thread)."""
    return [pid, *(p for c in children(pid) for p in family(c))]


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of the server, its workers summed."""
    total = 0.0
    for member in family(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of the server and its workers (all their threads)."""
    total = 0
    for member in family(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def bodies() -> list[dict]:
    import pandas as pd

    data_dir = find_arena_dir()
    if data_dir is None:
        raise SystemExit("arena data not found (../shared/data/arena-55k)")
    pairs = pd.concat([read_pairs(f) for f in train_files(data_dir)], ignore_index=True)
    return [{"prompt": p, "response_a": a, "response_b": b}
            for p, a, b in zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])]


async def closed_loop(post, payloads: list, n_requests: int, clients: int) -> tuple[list[float], int, float]:
    """``clients`` loops, each sending its next request when the last answer came; ``post(payload)``
    returns whether the answer was HTTP 200. The first 8 payloads warm up, untimed."""
    latencies: list[float] = []
    errors = 0
    next_index = 0

    async def client() -> None:
        nonlocal next_index, errors
        while next_index < n_requests:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            ok = await post(payloads[i % len(payloads)])
            latencies.append(time.perf_counter() - start)
            errors += not ok

    for payload in payloads[:8]:  # (n_requests = 0: only these)
        if not await post(payload):
            raise SystemExit("warm-up request failed")
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - start


async def load(base: str, payloads: list[dict], n_requests: int, clients: int,
               client_lib: str = "httpx") -> tuple[list[float], int, float]:
    """POST /v1/compare in a closed loop with httpx or aiohttp (aiohttp's client costs the shared cores
    about a fifth of httpx's CPU per request, so more of the machine is left to the server)."""
    if client_lib == "aiohttp":
        import json

        import aiohttp

        encoded = [json.dumps(p).encode() for p in payloads]
        headers = {"content-type": "application/json"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients),
                                         timeout=aiohttp.ClientTimeout(total=120)) as session:
            async def post_aiohttp(body: bytes) -> bool:
                try:
                    async with session.post(f"{base}/v1/compare", data=body, headers=headers) as response:
                        await response.read()
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            return await closed_loop(post_aiohttp, encoded, n_requests, clients)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as http:
        async def post_httpx(payload: dict) -> bool:
            try:
                return (await http.post("/v1/compare", json=payload)).status_code == 200
            except httpx.HTTPError:
                return False

        return await closed_loop(post_httpx, payloads, n_requests, clients)


# wrk (a C load generator, Debian's `wrk`): the same closed loop of `clients` connections, each sending its
# next request when the last answer came, the same bodies in the same order; it runs for a time, not a count
_WRK_SCRIPT = """
local bodies, sent = {}, 0
for line in io.lines(os.getenv("SERVE_LOAD_BODIES")) do bodies[#bodies + 1] = line end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  sent = sent + 1
  return wrk.format(nil, "/v1/compare", nil, bodies[(sent - 1) % #bodies + 1])
end
"""
_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_load(base: str, payloads: list[dict], seconds: float, clients: int) -> dict[str, float]:
    """POST /v1/compare with wrk for ``seconds`` (one thread, ``clients`` connections); its own summary parsed: requests,
    seconds, non-2xx and socket errors, p50/p99 latency, and its CPU seconds (the child's rusage)."""
    import json
    import re
    import resource
    import shutil

    if shutil.which("wrk") is None:
        raise SystemExit("--client wrk needs wrk on the PATH (Debian/Ubuntu: apt-get install wrk)")
    with tempfile.TemporaryDirectory() as tmp:
        script, bodies_file = Path(tmp) / "post.lua", Path(tmp) / "bodies.jsonl"
        script.write_text(_WRK_SCRIPT)
        bodies_file.write_text("".join(json.dumps(p) + "\n" for p in payloads))
        env = {**os.environ, "SERVE_LOAD_BODIES": str(bodies_file)}
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--latency", "-s", str(script), base],
                              env=env, capture_output=True, text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = done.stdout
    requests, seconds, unit = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out).groups()

    def latency(q: str) -> float:
        value, unit = re.search(rf"^\s*{q}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * _WRK_UNITS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"requests": int(requests), "seconds": float(seconds) * (1e-3 if unit == "ms" else 1.0),
            "errors": (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, sockets.groups())) if sockets else 0),
            "p50": latency("50"), "p99": latency("99"),
            "client_cpu": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)}


def serve_and_load(run_dir: str, max_batch: int, payloads: list[dict], n_requests: int,
                   clients: int, workers: int = 1, client_lib: str = "httpx", model_processes: int = 0,
                   wrk_seconds: float = 8.0) -> dict[str, float]:
    port = free_port()
    cmd = [sys.executable, "-m", "arenapref.cli", "serve", "--run", run_dir, "--host", "127.0.0.1",
           "--port", str(port), "--max-batch", str(max_batch), "--workers", str(workers), "--model-processes", str(model_processes), "--log-level", "warning"]
    log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the server
    server = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_healthy(base, server, timeout=120)
        except RuntimeError as err:
            log.seek(0)
            raise SystemExit(f"server did not start ({err}): {log.read().decode(errors='replace')}") from None
        if client_lib == "wrk":
            asyncio.run(load(base, payloads, 0, clients, "httpx"))  # the same untimed warm-up requests
        server_cpu, client_cpu = cpu_seconds(server.pid), time.process_time()
        if client_lib == "wrk":
            summary = wrk_load(base, payloads, wrk_seconds, clients)
        else:
            latencies, errors, wall = asyncio.run(load(base, payloads, n_requests, clients, client_lib))
            lat = np.asarray(latencies) * 1000
            summary = {"requests": len(lat), "seconds": wall, "errors": errors, "p50": float(np.percentile(lat, 50)),
                       "p99": float(np.percentile(lat, 99)), "client_cpu": time.process_time() - client_cpu}
        server_cpu = cpu_seconds(server.pid) - server_cpu
        peak = peak_rss_mib(server.pid)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    n = summary["requests"]
    return {"client": client_lib, "workers": workers, "procs": model_processes, "max_batch": max_batch,
            "requests": n, "errors": summary["errors"], "seconds": summary["seconds"], "rps": n / summary["seconds"],
            "p50": summary["p50"], "p99": summary["p99"], "peak": peak, "server_ms": 1000 * server_cpu / n,
            "client_ms": 1000 * summary["client_cpu"] / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, help="run directory (e.g. from `arenapref demo`)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8.0, help="how long wrk runs (it stops by time, not count)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-batch", type=int, nargs="+", default=[32, 1])
    parser.add_argument("--client", nargs="+", choices=["httpx", "aiohttp", "wrk"], default=["httpx"],
                        help="load generator(s): Python's httpx or aiohttp, or wrk (C; apt-get install wrk), which "
                             "leaves the most of the shared cores to the server")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], help="server processes to try (each "
                        "--max-batch is run with each)")
    parser.add_argument("--model-processes", type=int, nargs="+", default=[0], help="model processes per server "
                        "process to try (0: the model runs in the server process)")
    args = parser.parse_args()
    payloads = bodies()
    results = [serve_and_load(args.run, mb, payloads, args.requests, args.clients, w, c, m, args.seconds)
               for c in args.client for w in args.workers for m in args.model_processes for mb in args.max_batch]
    print(f"POST /v1/compare on 127.0.0.1, {args.requests:,} requests from {args.clients} concurrent clients, "
          f"real arena pairs ({len(payloads):,} distinct), run {args.run}")
    print(f"{'client':>7} {'workers':>7} {'procs':>5} {'max-batch':>9} {'requests':>8} {'errors':>6} {'seconds':>8} {'req/s':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'server peak RSS MiB':>20} {'CPU ms/req server':>18} {'client':>7}")
    for r in results:
        print(f"{r['client']:>7} {r['workers']:>7} {r['procs']:>5} {r['max_batch']:>9} {r['requests']:>8,} {r['errors']:>6} {r['seconds']:>8.1f} {r['rps']:>7.1f} "
              f"{r['p50']:>8.0f} {r['p99']:>8.0f} {r['peak']:>20.0f} {r['server_ms']:>18.2f} {r['client_ms']:>7.2f}")
    if any(r["errors"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
