"""arenapref batch --run RUN_DIR --input pairs.jsonl --output scores.jsonl [--resume | --force]

Scores a JSONL file of pairs as a stream: memory stays flat however long the input is (one chunk of
rows at a time, plus 8 bytes per row for the duplicate-id check). Input lines are objects with ``id``,
``prompt``, ``response_a``, ``response_b`` (each a string or a list of turns); other keys are ignored.
Output lines keep the input's ids and order::

    {"id": ..., "winner_model_a": 0.41, "winner_model_b": 0.33, "winner_tie": 0.26, "verdict": "A"}

The whole input is validated before anything is written, so a bad line stops the run with an error
naming line and field and no output. Rows go to ``OUTPUT.partial`` chunk by chunk (flushed to disk),
which is renamed to ``OUTPUT`` when complete; after an interruption ``--resume`` checks that the
partial rows match the input and continues after the last complete one. An existing output is never
replaced unless ``--force`` is given.

Beside the partial output, ``OUTPUT.partial.json`` records what the rows were made with (the run's
fingerprint, swap TTA, the arenapref version): ``--resume`` refuses, naming the difference, when the
current job differs, so one output never mixes two models or settings. With ``--on-bad-row skip`` bad
lines are left out and listed with their reasons in ``OUTPUT.skipped.jsonl`` (file, line, id, field,
reason); the default ``error`` stops at the first one.

``-`` as input or output streams stdin/stdout for shell pipelines: lines are validated as they come
(a bad line stops the run; rows already written to stdout stay written; under ``--on-bad-row skip``
each skipped line is reported on stderr), and there is no ``--resume``.

``--engine ray`` runs the same scoring on Ray Data workers; OUTPUT is then a folder of shards
(:mod:`arenapref.scale.ray_batch`, docs/scale.md).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arenapref.data.validation import DataError
from arenapref.runs import OutputExistsError
from arenapref.scale.rows import (
    DEFAULT_CHUNK,
    check_on_bad_row,
    id_key,
    parse_jsonl_line,
    score_line,
    skipped_record,
)


@dataclass
class BatchStats:
    total: int = 0
    resumed: int = 0
    scored: int = 0
    skipped: int = 0
    seconds: float = 0.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="score a JSONL file of pairs as a stream (resumable)")
    p.add_argument("--run", required=True, help="run directory made by train, demo or blend")
    p.add_argument("--input", required=True, help="JSONL: one {id, prompt, response_a, response_b} per line "
                   "(- reads stdin)")
    p.add_argument("--output", required=True, help="JSONL of scores to write, same ids and order (- writes "
                   "stdout)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true", help="continue an interrupted run (OUTPUT.partial)")
    mode.add_argument("--force", action="store_true", help="start over, replacing an existing output")
    p.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows per model call")
    p.add_argument("--on-bad-row", choices=["error", "skip"], default="error",
                   help="error: stop at the first bad line (nothing written); skip: leave bad lines out and "
                        "list them in OUTPUT.skipped.jsonl")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: one process, one JSONL output; ray: Ray Data workers, OUTPUT is a folder of "
                        "shards (pip install 'arenapref[ray]'; see docs/scale.md)")
    p.add_argument("--address", default=None, help="--engine ray: the Ray cluster to join (default: start a "
                   "local Ray on this machine)")
    p.add_argument("--workers", type=int, default=None, help="--engine ray: scoring actors, each holding the "
                   "run once (default: one per CPU of the cluster)")
    p.add_argument("--gpus-per-worker", type=float, default=0.0, help="--engine ray: GPUs each worker reserves "
                   "(LLM runs)")
    p.add_argument("--shard-format", choices=["parquet", "jsonl"], default="parquet",
                   help="--engine ray: format of the output shards")
    p.add_argument("--block-rows", type=int, default=None, help="--engine ray: input rows per block (one block "
                   "is one output shard and the unit --resume skips)")
    p.add_argument("--no-swap-tta", dest="swap_tta", action="store_const", const=False, default=None,
                   help="do not average with the A/B-swapped prediction")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def partial_path(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


def settings_path(output: Path) -> Path:
    """Where the settings of a partial output are kept (see module doc)."""
    return output.with_name(output.name + ".partial.json")


def skipped_path(output: Path) -> Path:
    return output.with_name(output.name + ".skipped.jsonl")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each non-blank line; undecodable bytes are kept visible as surrogates."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        for line_no, text in enumerate(handle, start=1):
            if text.strip():
                yield line_no, text


_parse = parse_jsonl_line  # the one row parser every scoring door shares


def _finished_rows(partial: Path) -> Iterator[tuple[int, str]]:
    """(byte offset after the line, id) of each complete line of a partial output."""
    offset = 0
    with open(partial, "rb") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.endswith(b"\n"):
                return  # the last line was cut by the interruption: it is redone
            try:
                row_id = json.loads(line)["id"]
            except (ValueError, KeyError, TypeError):
                raise DataError(partial, "not a line this command wrote; use --force to start over",
                                line=line_no) from None
            offset += len(line)
            yield offset, str(row_id)


def check_input(path: Path, partial: Path | None, *, bad: list[DataError] | None = None) -> tuple[int, int, int]:
    """Validate every input line; with a partial output, check it matches the input's first rows.

    With ``bad`` (a list), bad lines are appended to it and left out instead of stopping the run.
    Returns (rows to score, rows already finished, byte length of the finished part).
    """
    duplicate = _DuplicateCheck(path)
    done = _finished_rows(partial) if partial is not None else iter(())
    n_rows = n_done = keep_bytes = 0
    for line_no, text in _lines(path):
        try:
            _, row = _parse(path, line_no, text)
            duplicate(line_no, row["id"])
        except DataError as err:
            if bad is None:
                raise
            bad.append(err)
            continue
        n_rows += 1
        if n_done == n_rows - 1:
            finished = next(done, None)
            if finished is not None:
                offset, done_id = finished
                if done_id != row["id"]:
                    raise DataError(partial or path, f"row {n_rows} has id {done_id!r} but the input has "
                                    f"{row['id']!r} there: this partial output belongs to another input; "
                                    "use --force to start over")
                n_done, keep_bytes = n_rows, offset
    if n_rows == 0:
        raise DataError(path, f"no rows to score: all {len(bad)} lines are bad" if bad else "empty file: no rows")
    if next(done, None) is not None:
        raise DataError(partial or path, f"has more rows than the input ({n_rows}); use --force to start over")
    return n_rows, n_done, keep_bytes


def _rows_after(path: Path, skip: int, bad_lines: frozenset[int] = frozenset()) -> Iterator[tuple[Any, dict[str, Any]]]:
    seen = 0
    for line_no, text in _lines(path):
        if line_no in bad_lines:
            continue
        seen += 1
        if seen > skip:
            yield _parse(path, line_no, text)


class _DuplicateCheck:
    """Remembers an 8-byte hash per id: the one piece of state that grows with the input."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.seen: dict[int, int] = {}  # id_key -> line

    def __call__(self, line_no: int, row_id: str) -> None:
        key = id_key(row_id)
        if key in self.seen:
            raise DataError(self.path, f"duplicate id (first seen on line {self.seen[key]})", line=line_no,
                            row_id=row_id, field="id")
        self.seen[key] = line_no


def _score_chunks(judge: Any, rows: Iterator[tuple[Any, dict[str, Any]]], write: Any, *, chunk_size: int,
                  bar: Any, stats: BatchStats) -> None:
    """Score ``rows`` ``chunk_size`` at a time; ``write(bytes)`` gets each chunk's output lines."""
    from arenapref.api import release_feature_cache
    from arenapref.data.inputs import pairs_frame

    ids: list[Any] = []
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        proba = judge.predict_pairs(pairs_frame(chunk))
        write("".join(score_line(i, p) for i, p in zip(ids, proba)).encode("ascii"))
        stats.scored += len(chunk)
        bar.update(len(chunk))
        ids.clear()
        chunk.clear()
        release_feature_cache()

    for raw_id, row in rows:
        ids.append(raw_id)
        chunk.append(row)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    bar.close()


def score_stream(judge: Any, source: Any, write: Any, *, name: str = "<stdin>", chunk_size: int = DEFAULT_CHUNK,
                 progress: bool = True, stats: BatchStats | None = None, on_bad_row: str = "error",
                 report_bad: Any = None) -> BatchStats:
    """Pipe mode: score JSONL lines from a text stream as they come; no validation pass, no resume.

    A bad line stops the run with a DataError naming ``name`` and the line; rows before it were
    already written (a pipe cannot be taken back). Under ``on_bad_row='skip'`` it is left out and
    ``report_bad(DataError)`` is told (default: one line on stderr).
    """
    from tqdm.auto import tqdm

    check_on_bad_row(on_bad_row)
    stats = stats if stats is not None else BatchStats()
    duplicate = _DuplicateCheck(name)
    start = time.perf_counter()
    report = report_bad or (lambda err: print(f"skipped: {err}", file=sys.stderr))

    def rows() -> Iterator[tuple[Any, dict[str, Any]]]:
        for line_no, text in enumerate(source, start=1):
            if text.strip():
                try:
                    raw_id, row = _parse(name, line_no, text)
                    duplicate(line_no, row["id"])
                except DataError as err:
                    if on_bad_row == "error":
                        raise
                    stats.skipped += 1
                    report(err)
                    continue
                stats.total += 1
                yield raw_id, row
        if stats.total == 0:
            raise DataError(name, f"no rows to score: all {stats.skipped} lines are bad" if stats.skipped
                            else "empty input: no rows")

    bar = tqdm(unit="rows", desc="batch", disable=not progress, file=sys.stderr)
    _score_chunks(judge, rows(), write, chunk_size=chunk_size, bar=bar, stats=stats)
    stats.seconds = time.perf_counter() - start
    return stats


def _write_skipped(path: Path, bad: list[DataError]) -> None:
    from arenapref.runs import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for err in bad:
            handle.write(json.dumps(skipped_record(err), ensure_ascii=True) + "\n")


def _start_or_check_settings(judge: Any, output_path: Path, *, use_partial: bool) -> None:
    """A fresh partial output gets its settings file; a resumed one must have been made with these."""
    from arenapref.runs import write_json
    from arenapref.scale.settings import check_same, job_settings, read_settings

    side = settings_path(output_path)
    current = job_settings(judge)
    if use_partial:
        check_same(read_settings(side, what=str(partial_path(output_path))), current, path=side)
    else:
        write_json(side, current)


def score_jsonl(judge: Any, input_path: str | Path, output_path: str | Path, *, resume: bool = False,
                force: bool = False, chunk_size: int = DEFAULT_CHUNK, progress: bool = True,
                stats: BatchStats | None = None, on_bad_row: str = "error") -> BatchStats:
    """Score ``input_path`` into ``output_path`` with a :class:`arenapref.api.Judge` (see module doc)."""
    from tqdm.auto import tqdm

    input_path, output_path = Path(input_path), Path(output_path)
    check_on_bad_row(on_bad_row)
    stats = stats if stats is not None else BatchStats()
    if chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {chunk_size}")
    if not input_path.is_file():
        raise DataError(input_path, "no such file")
    if input_path.resolve() == output_path.resolve():
        raise ValueError(f"{output_path}: the output cannot be the input file")
    partial = partial_path(output_path)
    skipped = skipped_path(output_path)
    if output_path.exists() and not (force or resume):
        raise OutputExistsError(f"{output_path}: output already exists; pass --force to replace it")
    if partial.exists() and not (resume or force):
        raise OutputExistsError(f"{partial}: an interrupted run left this; pass --resume to continue it "
                                f"or --force to start over")
    if on_bad_row == "skip" and skipped.exists() and not (resume or force):
        raise OutputExistsError(f"{skipped}: already exists; pass --force to replace it")
    start = time.perf_counter()
    bad: list[DataError] | None = [] if on_bad_row == "skip" else None
    if resume and output_path.exists() and not partial.exists():
        # resuming a run that had finished: check it covers the input, then there is nothing to do
        stats.total, stats.resumed, _ = check_input(input_path, output_path, bad=bad)
        if stats.resumed != stats.total:
            raise DataError(output_path, f"has {stats.resumed} of the input's {stats.total} rows; "
                            "use --force to start over")
        stats.skipped = len(bad or ())
        stats.seconds = time.perf_counter() - start
        return stats
    use_partial = resume and partial.exists()
    if use_partial:
        _start_or_check_settings(judge, output_path, use_partial=True)  # before reading the whole input
    stats.total, stats.resumed, keep_bytes = check_input(input_path, partial if use_partial else None, bad=bad)
    if bad is not None:
        stats.skipped = len(bad)
        _write_skipped(skipped, bad)
    elif force:
        skipped.unlink(missing_ok=True)  # starting over: a list from an earlier skip run would mislead
    if not use_partial:
        _start_or_check_settings(judge, output_path, use_partial=False)
    bad_lines = frozenset(err.line for err in bad or () if err.line is not None)
    with open(partial, "r+b" if use_partial else "wb") as handle:
        handle.truncate(keep_bytes)  # drops a line cut short by the interruption
        handle.seek(keep_bytes)
        bar = tqdm(total=stats.total, initial=stats.resumed, unit="rows", desc="batch", disable=not progress,
                   file=sys.stderr)

        def write(data: bytes) -> None:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # a finished chunk survives a crash: that is what --resume relies on

        _score_chunks(judge, _rows_after(input_path, stats.resumed, bad_lines), write, chunk_size=chunk_size,
                      bar=bar, stats=stats)
    os.replace(partial, output_path)
    # after the rename: a crash in between leaves a stray settings file, never a partial without one
    settings_path(output_path).unlink(missing_ok=True)
    stats.seconds = time.perf_counter() - start
    return stats


def _run_pipe(judge: Any, args: argparse.Namespace, stats: BatchStats) -> int:
    """``--input -`` and/or ``--output -``: stream stdin/stdout, for shell pipelines."""
    from arenapref.runs import atomic_path, refuse_existing

    if args.resume:
        raise ValueError("--resume needs an input and an output file (a pipe cannot be read twice)")
    if args.input == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        source = (io.TextIOWrapper(stdin, encoding="utf-8", errors="surrogateescape", newline="")
                  if stdin is not None else sys.stdin)
        name = "<stdin>"
    else:
        if not Path(args.input).is_file():
            raise DataError(args.input, "no such file")
        source = open(args.input, encoding="utf-8", errors="surrogateescape", newline="")
        name = args.input
    options = {"name": name, "chunk_size": args.chunk_size, "progress": not args.quiet, "stats": stats,
               "on_bad_row": args.on_bad_row}
    try:
        if args.output == "-":
            stdout = getattr(sys.stdout, "buffer", None)

            def write(data: bytes) -> None:
                if stdout is not None:
                    stdout.write(data)
                else:
                    sys.stdout.write(data.decode("ascii"))
                sys.stdout.flush()

            score_stream(judge, source, write, **options)
        else:
            refuse_existing(Path(args.output), force=args.force)
            # a file written from a stream appears only when complete: a bad line leaves nothing
            with atomic_path(args.output) as tmp, open(tmp, "wb") as handle:
                score_stream(judge, source, handle.write, **options)
    except KeyboardInterrupt:
        print(f"arenapref batch: interrupted after {stats.scored:,} rows", file=sys.stderr)
        return 130
    finally:
        if source is not sys.stdin:
            source.close()
    rate = stats.scored / stats.seconds if stats.seconds > 0 else float("nan")
    print(f"arenapref batch: scored {stats.scored:,} rows from {name} in {stats.seconds:.1f} s "
          f"({rate:,.0f} rows/s)", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    from arenapref.api import load

    if args.chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if args.engine == "ray":
        return _run_ray(args)
    ray_only = [flag for flag, value in (("--address", args.address), ("--workers", args.workers),
                                          ("--block-rows", args.block_rows)) if value is not None]
    if ray_only or args.gpus_per_worker:
        raise ValueError(f"{(ray_only or ['--gpus-per-worker'])[0]} applies to --engine ray only")
    judge = load(args.run, swap_tta=args.swap_tta)
    stats = BatchStats()
    if "-" in (args.input, args.output):
        return _run_pipe(judge, args, stats)
    try:
        score_jsonl(judge, args.input, args.output, resume=args.resume, force=args.force,
                    chunk_size=args.chunk_size, progress=not args.quiet, stats=stats, on_bad_row=args.on_bad_row)
    except KeyboardInterrupt:
        done = stats.resumed + stats.scored
        print(f"arenapref batch: interrupted after {done:,} of {stats.total:,} rows; they are kept in "
              f"{partial_path(Path(args.output))}; rerun with --resume to finish", file=sys.stderr)
        return 130
    rate = stats.scored / stats.seconds if stats.seconds > 0 else float("nan")
    resumed = f" ({stats.resumed:,} already done before --resume)" if stats.resumed else ""
    skipped = (f"; skipped {stats.skipped:,} bad lines (listed in {skipped_path(Path(args.output))})"
               if args.on_bad_row == "skip" else "")
    print(f"wrote {stats.total:,} rows to {args.output}{resumed}; scored {stats.scored:,} in "
          f"{stats.seconds:.1f} s ({rate:,.0f} rows/s){skipped}")
    return 0


def _run_ray(args: argparse.Namespace) -> int:
    """``--engine ray``: the same scoring on Ray Data workers (see :mod:`arenapref.scale.ray_batch`)."""
    from arenapref.scale.ray_batch import RayJob, run_ray_job

    if "-" in (args.input, args.output):
        raise ValueError("--engine ray reads files and writes a folder of shards; it cannot use - (a pipe)")
    job = RayJob(run=args.run, inputs=[args.input], output=args.output, swap_tta=args.swap_tta,
                 resume=args.resume, force=args.force, on_bad_row=args.on_bad_row, chunk_size=args.chunk_size,
                 block_rows=args.block_rows, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                 address=args.address, shard_format=args.shard_format, progress=not args.quiet)
    result = run_ray_job(job)
    print(result.summary())
    return 0
