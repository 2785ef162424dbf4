"""arenapref serve --run RUN_DIR [--host 127.0.0.1] [--port 8000]: the HTTP service and its web page."""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from arenapref.serve.settings import Limits

DEFAULTS = Limits()


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="HTTP service + web page for a run's model (needs the serve extra)")
    p.add_argument("--run", required=True, help="run directory made by train, demo or blend")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=int, default=32, help="rows per model call when requests queue up "
                   "(1 turns micro-batching off)")
    p.add_argument("--max-body-bytes", type=int, default=DEFAULTS.max_body_bytes)
    p.add_argument("--max-chars", type=int, default=DEFAULTS.max_chars, help="characters per field")
    p.add_argument("--max-turns", type=int, default=DEFAULTS.max_turns)
    p.add_argument("--max-items", type=int, default=DEFAULTS.max_items, help="pairs per /v1/batch request")
    p.add_argument("--no-swap-tta", dest="swap_tta", action="store_const", const=False, default=None,
                   help="do not average with the A/B-swapped prediction")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with its own copy of the "
                   "model (memory grows with each); more than one serves more requests per second on several cores")
    p.add_argument("--model-processes", type=int, default=0, help="score batches in N separate processes "
                   "(each loads the run; one core each), several batches at once; 0 (default): in the server process")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info"])
    p.set_defaults(func=run)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    for name in ("max_batch", "max_body_bytes", "max_chars", "max_turns", "max_items", "workers"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    if args.model_processes < 0:
        raise ValueError("--model-processes must be 0 (score in the server process) or more")
    try:
        import uvicorn

        from arenapref.serve.app import create_app
    except ImportError as err:
        raise ImportError(f"serve needs the serve extra: pip install 'arenapref[serve]' ({err})") from None
    from arenapref.api import load

    judge = load(args.run, swap_tta=args.swap_tta)
    limits = Limits(max_body_bytes=args.max_body_bytes, max_turns=args.max_turns, max_chars=args.max_chars,
                    max_items=args.max_items)
    if not is_loopback(args.host):
        print(f"arenapref serve: warning: binding {args.host}: the service has no authentication; anyone who "
              "can reach this address can use it", file=sys.stderr)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"serving {judge.run_dir} ({judge.info.get('model')}) on http://{shown}:{args.port}/  "
          f"(API docs at /docs)", flush=True)
    if args.workers == 1:
        from arenapref.serve.procs import started

        processes = started(str(judge.run_dir), args.swap_tta, args.model_processes)
        app = create_app(judge, limits=limits, max_batch=args.max_batch, model_processes=processes)
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return 0
    # the run was loaded (and checked) above, so a damaged run fails here, once, not in every worker
    from arenapref.serve import worker

    os.environ[worker.ENV] = worker.settings(str(judge.run_dir), swap_tta=args.swap_tta, limits=limits,
                                             max_batch=args.max_batch, model_processes=args.model_processes)
    uvicorn.run("arenapref.serve.worker:app", factory=True, workers=args.workers, host=args.host, port=args.port,
                log_level=args.log_level)
    return 0
