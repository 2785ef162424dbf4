"""Batch scoring and pseudo-labelling on Ray Data: the same rows, the same ``Judge``, the same floats.

``arenapref batch --engine ray`` and ``arenapref pseudo-label --engine ray`` call :func:`run_ray_job`.
The job runs in four steps, all from the driver:

1. **Plan** (driver, one streaming pass over the bytes, no parsing): each input file (local or any
   filesystem pyarrow reaches, e.g. ``s3://``; globs allowed) is cut into *blocks* of ``block_rows``
   rows: byte ranges at line ends for JSONL, at record ends for Kaggle CSV (newlines inside quoted
   cells are not record ends), row groups for Parquet; a compressed file is one block.
2. **Validate** (Ray tasks, one per block): every row is parsed by :mod:`arenapref.scale.rows`, the
   parser ``batch`` uses; a task returns its bad rows and an 8-byte hash per good id. The driver checks
   ids across all files. As in ``batch``, under ``--on-bad-row error`` the first bad row (in input
   order) stops the job before anything is written; under ``skip`` bad rows go to ``skipped.jsonl``.
3. **Score** (an actor pool through ``map_batches`` with a callable class): each actor loads the run
   **once** with ``arenapref.load`` and scores its blocks with ``judge.predict_pairs(pairs_frame(rows))``
   in chunks, exactly as ``batch`` does, then writes one shard per block, atomically (a temporary file
   renamed into place locally; object stores publish an object only when it is complete).
4. **Finish**: ``_SUCCESS.json`` with the counts.

The output folder holds ``part-NNNNNN.parquet`` (or ``.jsonl``) shards whose names sort in input
order, ``_job.json`` (the run's fingerprint, the prediction settings, the arenapref version, the input
files and the plan) and, under skip, ``skipped.jsonl``. ``--resume`` re-plans, refuses when anything
in ``_job.json`` differs (naming it), and scores only the blocks whose shard is missing.
"""

from __future__ import annotations

import csv
import fnmatch
import functools
import io
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.schema import LABEL_COLUMNS, TEXT_COLUMNS
from arenapref.data.validation import DataError
from arenapref.scale.rows import (
    DEFAULT_CHUNK,
    check_on_bad_row,
    id_key,
    parse_jsonl_line,
    parse_record,
    score_line,
    skipped_record,
)

DEFAULT_BLOCK_ROWS = 2048
JOB_FILE = "_job.json"
SUCCESS_FILE = "_SUCCESS.json"
SKIPPED_FILE = "skipped.jsonl"
SHARD_PREFIX = "part-"
_SCAN_BYTES = 16 << 20
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
# keys of _job.json that must match for --resume (the plan is only valid for the same inputs)
PLAN_KEYS = ("mode", "inputs", "block_rows", "shard_format", "on_bad_row", "min_confidence")


@dataclass
class RayJob:
    run: str
    inputs: list[str]
    output: str
    mode: str = "scores"  # "scores" (batch) or "pseudo" (pseudo-label)
    swap_tta: bool | None = None
    resume: bool = False
    force: bool = False
    on_bad_row: str = "error"
    chunk_size: int = DEFAULT_CHUNK
    block_rows: int | None = None
    workers: int | None = None
    gpus_per_worker: float = 0.0
    address: str | None = None
    shard_format: str = "parquet"
    min_confidence: float = 0.0
    progress: bool = True


@dataclass
class RayResult:
    output: str
    total: int = 0
    scored: int = 0
    kept: int = 0
    skipped: int = 0
    blocks: int = 0
    blocks_resumed: int = 0
    workers: int = 0
    seconds: float = 0.0
    sums: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        rate = self.scored / self.seconds if self.seconds > 0 else float("nan")
        resumed = f" ({self.blocks_resumed} of {self.blocks} blocks already done before --resume)" \
            if self.blocks_resumed else ""
        skipped = f"; skipped {self.skipped:,} bad rows (listed in {self.output}/{SKIPPED_FILE})" \
            if self.skipped else ""
        return (f"wrote {self.total:,} rows in {self.blocks} shards to {self.output}{resumed}; scored "
                f"{self.scored:,} on {self.workers} Ray workers in {self.seconds:.1f} s ({rate:,.0f} rows/s)"
                f"{skipped}")


# --- filesystems -------------------------------------------------------------------------------------

def _filesystem(uri: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path in it) for a local path or a URI such as ``s3://bucket/key``."""
    from pyarrow import fs

    if "://" in uri and not uri.startswith("file://"):
        try:
            return fs.FileSystem.from_uri(uri)
        except Exception as err:  # pyarrow raises ArrowInvalid / OSError for unknown schemes
            raise DataError(uri, f"cannot open this filesystem ({err})") from None
    return fs.LocalFileSystem(), os.path.abspath(uri.removeprefix("file://"))


def _uri(fs: Any, path: str, like: str) -> str:
    """The URI a worker can open again: the scheme of ``like`` with ``path`` inside that filesystem."""
    if "://" in like and not like.startswith("file://"):
        return f"{like.split('://', 1)[0]}://{path}"
    return path


def _is_local(fs: Any) -> bool:
    return type(fs).__name__ == "LocalFileSystem"


def expand_inputs(specs: list[str]) -> list[dict[str, Any]]:
    """Every file named or matched by ``specs`` (in sorted order per spec) with its size and mtime."""
    from pyarrow import fs as pafs

    files: list[dict[str, Any]] = []
    for spec in specs:
        filesystem, path = _filesystem(spec)
        if any(ch in path for ch in "*?["):
            base = path
            while any(ch in base for ch in "*?["):
                base = base.rsplit("/", 1)[0] if "/" in base else ""
            selector = pafs.FileSelector(base, recursive="**" in path or path.count("/") > base.count("/") + 1,
                                         allow_not_found=True)
            infos = [i for i in filesystem.get_file_info(selector)
                     if i.type == pafs.FileType.File and fnmatch.fnmatchcase(i.path, path)]
            if not infos:
                raise DataError(spec, "no files match this pattern")
        else:
            info = filesystem.get_file_info(path)
            if info.type == pafs.FileType.NotFound:
                raise DataError(spec, "no such file")
            if info.type != pafs.FileType.File:
                raise DataError(spec, "is a folder, expected a file or a glob (e.g. DIR/*.jsonl)")
            infos = [info]
        for info in sorted(infos, key=lambda i: i.path):
            files.append({"uri": _uri(filesystem, info.path, spec), "bytes": info.size,
                          "mtime_ns": info.mtime_ns, "format": _format_of(info.path, spec)})
    seen: set[str] = set()
    for f in files:
        if f["uri"] in seen:
            raise DataError(f["uri"], "named twice by the inputs")
        seen.add(f["uri"])
    return files


def _format_of(path: str, spec: str) -> str:
    name = path.lower()
    for ext in _COMPRESSED:
        name = name.removesuffix(ext)
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise DataError(path, "cannot tell the format from the extension; --engine ray reads .jsonl (canonical "
                          "JSONL), .csv (Kaggle CSV) and .parquet")


# --- planning ----------------------------------------------------------------------------------------

def _scan_ends(stream: Any, block_rows: int, *, quoted: bool) -> Iterator[tuple[int, int]]:
    """(byte offset after the row, physical line number after it) for every ``block_rows``-th row end.

    A row ends at a newline; in CSV (``quoted``) only at a newline outside quotes, i.e. after an even
    number of double quotes (RFC 4180 escapes a quote inside a cell as two quotes, which keeps parity).
    """
    offset, lines, rows, quotes = 0, 0, 0, 0
    while True:
        chunk = stream.read(_SCAN_BYTES)
        if not chunk:
            return
        arr = np.frombuffer(chunk, dtype=np.uint8)
        newline = np.flatnonzero(arr == 10)
        if quoted:
            parity = (quotes + np.cumsum(arr == 34)) % 2
            ends = newline[parity[newline] == 0]
            quotes += int((arr == 34).sum())
        else:
            ends = newline
        # row ends where rows % block_rows == 0, i.e. every block_rows-th end counting from this chunk
        first = (block_rows - rows % block_rows) - 1
        for k in range(first, len(ends), block_rows):
            pos = int(ends[k])
            yield offset + pos + 1, lines + int(np.searchsorted(newline, pos, side="right"))
        rows += len(ends)
        lines += len(newline)
        offset += len(chunk)


def _csv_header(filesystem: Any, path: str, uri: str) -> tuple[list[str], int, int]:
    """(column names, byte offset after the header record, physical lines it spans) of a Kaggle CSV."""
    with filesystem.open_input_stream(path) as stream:
        ends = _scan_ends(stream, 1, quoted=True)
        end = next(ends, None)
    with filesystem.open_input_file(path) as handle:
        head = handle.read_at(end[0], 0) if end else handle.read()
    try:
        header = next(csv.reader(io.StringIO(head.decode("utf-8", "surrogateescape"), newline="")))
    except (StopIteration, csv.Error):
        raise DataError(uri, "empty file: no header row") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in ("id", *TEXT_COLUMNS) if c not in header]
    if missing:
        raise DataError(uri, f"missing column(s) {missing}; the file has {header}")
    if len(set(header)) != len(header):
        raise DataError(uri, f"duplicate column(s) in {header}")
    return header, (end[0] if end else len(head)), (end[1] if end else 1)


def plan_blocks(files: list[dict[str, Any]], block_rows: int) -> list[dict[str, Any]]:
    """The blocks of all input files, in input order (block k is written to shard k)."""
    import pyarrow.parquet as pq

    blocks: list[dict[str, Any]] = []
    for f in files:
        uri, fmt = f["uri"], f["format"]
        filesystem, path = _filesystem(uri)
        base = {"uri": uri, "format": fmt, "header": None, "row_group": -1}
        if fmt == "parquet":
            with filesystem.open_input_file(path) as handle:
                try:
                    meta = pq.ParquetFile(handle).metadata
                except Exception as err:  # pyarrow raises several types for corrupt files
                    raise DataError(uri, f"not a readable Parquet file ({err})") from None
                names = meta.schema.to_arrow_schema().names
            missing = [c for c in ("id", *TEXT_COLUMNS) if c not in names]
            if missing:
                raise DataError(uri, f"missing column(s) {missing}; the file has {names}")
            first = 1
            for g in range(meta.num_row_groups):
                blocks.append({**base, "row_group": g, "start": 0, "end": 0, "first_line": first})
                first += meta.row_group(g).num_rows
            continue
        header, start, first_line = None, 0, 1
        if fmt == "csv":
            header, start, first_line = _csv_header(filesystem, path, uri)
            first_line += 1
        if uri.lower().endswith(_COMPRESSED):
            blocks.append({**base, "header": header, "start": 0, "end": -1, "first_line": 1})
            continue
        ends: list[tuple[int, int]] = []
        with filesystem.open_input_stream(path) as stream:
            ends = list(_scan_ends(stream, block_rows, quoted=fmt == "csv"))
        line = first_line
        for end, lines_before in ends:
            if end <= start:
                continue  # the header's own end
            blocks.append({**base, "header": header, "start": start, "end": end, "first_line": line})
            start, line = end, lines_before + 1
        if start < f["bytes"] or not blocks or blocks[-1]["uri"] != uri:
            blocks.append({**base, "header": header, "start": start, "end": f["bytes"], "first_line": line})
    for k, block in enumerate(blocks):
        block["block"] = k
    return blocks


# --- reading one block (in workers) --------------------------------------------------------------------

def _read_text(block: dict[str, Any]) -> str:
    filesystem, path = _filesystem(block["uri"])
    if block["end"] < 0:  # compressed: the whole file
        with filesystem.open_input_stream(path, compression="detect") as stream:
            data = stream.read()
    else:
        with filesystem.open_input_file(path) as handle:
            data = handle.read_at(block["end"] - block["start"], block["start"])
    return data.decode("utf-8", "surrogateescape")


def block_rows_iter(block: dict[str, Any], *, full: bool = False) -> Iterator[tuple[int, Any, dict[str, Any] | DataError]]:
    """(line, original id, canonical row or the DataError of a bad row) for each row of one block.

    An error that stops the whole block (a broken CSV record, an unreadable file) is raised.
    ``full`` also reads the optional columns (model names, source) that pseudo-labels keep.
    """
    uri, fmt = block["uri"], block["format"]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        filesystem, path = _filesystem(uri)
        with filesystem.open_input_file(path) as handle:
            pf = pq.ParquetFile(handle)
            names = pf.metadata.schema.to_arrow_schema().names
            wanted = ["id", *TEXT_COLUMNS] + ([c for c in ("model_a", "model_b", "source") if c in names]
                                              if full else [])
            records = pf.read_row_group(block["row_group"], columns=wanted).to_pylist()
        for i, obj in enumerate(records):
            line = block["first_line"] + i
            yield line, *_parse_or_error(functools.partial(parse_record, uri, line, obj, json_encoded=False))
        return
    text = _read_text(block)
    if fmt == "jsonl":
        for line, row_text in enumerate(io.StringIO(text, newline=""), start=block["first_line"]):
            if row_text.strip():
                yield line, *_parse_or_error(functools.partial(parse_jsonl_line, uri, line, row_text))
        return
    csv.field_size_limit(sys.maxsize)
    reader = csv.reader(io.StringIO(text, newline=""))
    header = block["header"]
    base = block["first_line"] - 1
    if block["end"] < 0:
        next(reader, None)  # a compressed file is read whole, header included
        base = 0
    while True:
        line = base + reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise DataError(uri, f"broken CSV record ({err})", line=line) from None
        if not cells:
            continue
        if len(cells) != len(header):
            yield line, None, DataError(uri, f"{len(cells)} cells, the header has {len(header)}", line=line)
            continue
        obj = dict(zip(header, cells))
        yield line, *_parse_or_error(functools.partial(parse_record, uri, line, obj, json_encoded=True))


def _parse_or_error(parse: Callable[[], tuple[Any, dict[str, Any]]]) -> tuple[Any, dict[str, Any] | DataError]:
    try:
        return parse()
    except DataError as err:
        return None, err


# --- step 2: validation tasks ------------------------------------------------------------------------------

def _fatal(err: DataError) -> str:
    return json.dumps({"fatal": skipped_record(err)})


def validate_blocks(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    """Ray Data map function: per block, the bad rows and (line, id hash) of the good ones."""
    out: dict[str, list[Any]] = {"block": [], "report": [], "lines": [], "keys": [], "ids": []}
    for spec in batch["spec"]:
        block = json.loads(spec)
        bad, lines, keys, ids = [], [], [], []
        try:
            for line, _raw_id, row in block_rows_iter(block):
                if isinstance(row, DataError):
                    bad.append(skipped_record(row))
                else:
                    lines.append(line)
                    keys.append(id_key(row["id"]))
                    ids.append(row["id"])
            report = json.dumps({"bad": bad})
        except DataError as err:
            report = _fatal(err)
        out["block"].append(block["block"])
        out["report"].append(report)
        out["lines"].append(np.asarray(lines, dtype=np.int64))
        out["keys"].append(np.asarray(keys, dtype=np.uint64))
        out["ids"].append(json.dumps(ids, ensure_ascii=True))
    return out


# --- step 3: the scoring actor ------------------------------------------------------------------------------

class BlockScorer:
    """One Ray actor: holds one loaded run for its life and turns blocks into shards."""

    def __init__(self, run: str, swap_tta: bool | None, expected: dict[str, Any], output: str, mode: str,
                 shard_format: str, chunk_size: int, min_confidence: float) -> None:
        from arenapref.api import load

        self.judge = load(run, swap_tta=swap_tta)
        got = {"run_fingerprint": self.judge.fingerprint["run"], "swap_tta": bool(self.judge.swap_tta)}
        want = {k: expected[k] for k in got}
        if got != want:  # e.g. another copy of the run on this node of the cluster
            raise ValueError(f"{run}: the run this worker loaded does not match the driver's ({got} vs {want}); "
                             "every node must hold the same run directory")
        self.output, self.mode, self.shard_format = output, mode, shard_format
        self.chunk_size, self.min_confidence = chunk_size, min_confidence

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, list[Any]] = {"block": [], "rows": [], "kept": [], "sums": [], "seconds": []}
        for spec in batch["spec"]:
            start = time.perf_counter()
            block = json.loads(spec)
            n, kept, sums = self._score_block(block)
            out["block"].append(block["block"])
            out["rows"].append(n)
            out["kept"].append(kept)
            out["sums"].append(json.dumps(sums))
            out["seconds"].append(time.perf_counter() - start)
        return out

    def _score_block(self, block: dict[str, Any]) -> tuple[int, int, dict[str, float]]:
        from arenapref.api import release_feature_cache
        from arenapref.data.inputs import pairs_frame

        pseudo = self.mode == "pseudo"
        skip = set(block.get("skip_lines", ()))
        raw_ids: list[Any] = []
        ids: list[str] = []
        kept_rows: list[dict[str, Any]] = []  # whole rows only where the output keeps them (pseudo-labels)
        parts: list[np.ndarray] = []
        chunk: list[dict[str, Any]] = []

        def flush() -> None:
            parts.append(self.judge.predict_pairs(pairs_frame(chunk)))
            if pseudo:
                kept_rows.extend(chunk)
            chunk.clear()
            release_feature_cache()  # as in batch: each text is seen once, a cache would only grow

        for line, raw_id, row in block_rows_iter(block, full=pseudo):
            if line in skip:
                continue
            if isinstance(row, DataError):  # validation saw this block without the error: input changed
                raise ValueError(f"{row} (this row was valid when the job was planned: did the input change?)")
            raw_ids.append(raw_id)
            ids.append(row["id"])
            chunk.append(row)
            if len(chunk) >= self.chunk_size:
                flush()
        if chunk:
            flush()
        proba = np.vstack(parts) if parts else np.zeros((0, 3))
        path = shard_path(self.output, block["block"], self.shard_format)
        if pseudo:
            return len(ids), *self._write_pseudo(path, kept_rows, proba)
        _publish(path, lambda tmp: _write_scores(tmp, raw_ids, ids, proba, self.shard_format))
        return len(ids), len(ids), {c: float(proba[:, j].sum()) for j, c in enumerate(LABEL_COLUMNS)}

    def _write_pseudo(self, path: str, rows: list[dict[str, Any]], proba: np.ndarray) -> tuple[int, dict[str, float]]:
        from arenapref.data.inputs import pairs_frame
        from arenapref.data.readers import write_pairs
        from arenapref.pseudo import apply_soft_labels

        pool = pairs_frame(rows) if rows else pd.DataFrame(columns=["id", *TEXT_COLUMNS, "source"])
        table = apply_soft_labels(pool, proba, min_confidence=self.min_confidence) if rows else pool
        ext = ".parquet" if self.shard_format == "parquet" else ".jsonl"

        def write(tmp: Path) -> None:
            named = tmp.with_name(tmp.name + ext)  # write_pairs picks the format by extension
            write_pairs(table, named)
            os.replace(named, tmp)

        _publish(path, write)
        sums = {c: float(table[c].sum()) for c in LABEL_COLUMNS} if rows else {}
        sums["confidence"] = float(proba.max(axis=1).sum()) if len(proba) else 0.0
        sources: dict[str, int] = table["source"].value_counts().to_dict() if rows else {}
        sums.update({f"source:{k}": float(v) for k, v in sources.items()})
        return len(table), sums


def _write_scores(tmp: Path, raw_ids: list[Any], ids: list[str], proba: np.ndarray, shard_format: str) -> None:
    from arenapref.data.schema import CLASS_NAMES

    if shard_format == "jsonl":  # byte for byte the lines `arenapref batch` writes
        with open(tmp, "wb") as handle:
            handle.write("".join(score_line(i, p) for i, p in zip(raw_ids, proba)).encode("ascii"))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    verdicts = [CLASS_NAMES[k] for k in proba.argmax(axis=1)] if len(proba) else []
    table = pa.table({"id": pa.array(ids, pa.string()),
                      **{c: pa.array(proba[:, j] if len(proba) else [], pa.float64())
                         for j, c in enumerate(LABEL_COLUMNS)},
                      "verdict": pa.array(verdicts, pa.string())})
    pq.write_table(table, tmp)


def shard_path(output: str, block: int, shard_format: str) -> str:
    return f"{output.rstrip('/')}/{SHARD_PREFIX}{block:06d}.{shard_format}"


def _publish(dest: str, write: Callable[[Path], Any]) -> None:
    """Write a file so that it appears complete or not at all (what --resume relies on)."""
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(dest)
    if _is_local(filesystem):
        tmp = Path(f"{os.path.dirname(path)}/.{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return
    import tempfile

    # an object store makes an object visible only once its upload completes
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder) / "shard"
        write(tmp)
        pafs.copy_files(str(tmp), path, source_filesystem=pafs.LocalFileSystem(), destination_filesystem=filesystem)


# --- the driver -----------------------------------------------------------------------------------------

def _run_swap_tta(run_dir: Path, override: bool | None) -> bool:
    # mirrors arenapref.load; each worker checks its loaded Judge against this, so a drift shows
    from arenapref.runs import read_yaml

    if override is not None:
        return bool(override)
    config = read_yaml(run_dir / "config.yaml") if (run_dir / "config.yaml").exists() else {}
    return bool(((config or {}).get("predict") or {}).get("swap_tta", True))


def job_record(job: RayJob, files: list[dict[str, Any]], block_rows: int) -> dict[str, Any]:
    from arenapref.runs import check_run_dir, run_fingerprint
    from arenapref.scale.settings import SETTINGS_KIND
    from arenapref.version import __version__

    run_dir = check_run_dir(job.run)
    return {"kind": SETTINGS_KIND, "engine": "ray", "mode": job.mode, "run_fingerprint": run_fingerprint(run_dir),
            "run_dir": str(Path(run_dir).resolve()), "swap_tta": _run_swap_tta(Path(run_dir), job.swap_tta),
            "arenapref_version": __version__, "inputs": files, "block_rows": block_rows,
            "shard_format": job.shard_format, "on_bad_row": job.on_bad_row,
            "min_confidence": job.min_confidence if job.mode == "pseudo" else None}


def _check_job(job: RayJob) -> int:
    check_on_bad_row(job.on_bad_row)
    if job.mode not in ("scores", "pseudo"):
        raise ValueError(f"unknown mode {job.mode!r}")
    if job.shard_format not in ("parquet", "jsonl"):
        raise ValueError(f"--shard-format must be parquet or jsonl, got {job.shard_format!r}")
    if job.chunk_size < 1:
        raise ValueError(f"--chunk-size must be at least 1, got {job.chunk_size}")
    block_rows = job.block_rows if job.block_rows is not None else DEFAULT_BLOCK_ROWS
    if block_rows < 1:
        raise ValueError(f"--block-rows must be at least 1, got {block_rows}")
    if job.workers is not None and job.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {job.workers}")
    if job.gpus_per_worker < 0:
        raise ValueError(f"--gpus-per-worker must be 0 or more, got {job.gpus_per_worker}")
    return block_rows


def _ours(name: str) -> bool:
    return (name.startswith(SHARD_PREFIX) or name in (JOB_FILE, SUCCESS_FILE, SKIPPED_FILE, "provenance.json")
            or (name.startswith(".") and SHARD_PREFIX in name and name.endswith(".tmp")))


def _check_output(job: RayJob, record: dict[str, Any]) -> set[str] | None:
    """The names of the shards already complete when resuming, None for a fresh start (nothing written)."""
    from pyarrow import fs as pafs

    from arenapref.runs import OutputExistsError
    from arenapref.scale.settings import BINDING_KEYS, check_same

    filesystem, path = _filesystem(job.output)
    info = filesystem.get_file_info(path)
    if info.type == pafs.FileType.File:
        raise OutputExistsError(f"{job.output}: is a file; --engine ray writes a folder of shards")
    names: list[str] = []
    if info.type == pafs.FileType.Directory:
        names = [i.base_name for i in filesystem.get_file_info(pafs.FileSelector(path))]
    job_path = f"{path}/{JOB_FILE}"
    if names and job.resume and JOB_FILE in names:
        with filesystem.open_input_stream(job_path) as stream:
            try:
                saved = json.loads(stream.read().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                raise DataError(f"{job.output}/{JOB_FILE}", "damaged; use --force to start over") from None
        check_same(saved, record, path=Path(f"{job.output}/{JOB_FILE}"), keys=BINDING_KEYS + PLAN_KEYS)
        for name in names:  # a write cut short by a kill leaves a temporary file: never a shard
            if name.startswith(".") and SHARD_PREFIX in name and name.endswith(".tmp"):
                filesystem.delete_file(f"{path}/{name}")
        return {n for n in names if n.startswith(SHARD_PREFIX)}
    if names and not job.force:
        hint = "pass --resume to continue it or --force to start over" if JOB_FILE in names else \
            "pass --force to replace it"
        raise OutputExistsError(f"{job.output}: output folder already exists and is not empty; {hint}")
    foreign = [n for n in names if not _ours(n)]
    if foreign:
        raise OutputExistsError(f"{job.output}: holds files arenapref did not write ({foreign[:3]}); "
                                "choose an empty or new folder")
    return None


def _start_output(job: RayJob, record: dict[str, Any]) -> None:
    """A fresh output folder (an old one of ours emptied under --force) holding the job's settings."""
    from pyarrow import fs as pafs

    filesystem, path = _filesystem(job.output)
    if filesystem.get_file_info(path).type == pafs.FileType.Directory:
        for info in filesystem.get_file_info(pafs.FileSelector(path)):
            if _ours(info.base_name):  # _check_output refused folders holding anything else
                filesystem.delete_file(info.path)
    filesystem.create_dir(path, recursive=True)
    _publish(f"{job.output}/{JOB_FILE}", lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n",
                                                                      encoding="utf-8"))


def _init_ray(job: RayJob) -> Any:
    import ray

    if not ray.is_initialized():
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": True}
        if job.address:
            ray.init(address=job.address, **options)
        else:
            ray.init(include_dashboard=False, **options)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # our own bar counts rows; Ray's bars would interleave with it
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def _unwrap(err: BaseException) -> BaseException:
    """The user's error inside Ray's wrappers (a worker's ValueError becomes one line again)."""
    seen = err
    for _ in range(8):
        cause = getattr(seen, "cause", None) or seen.__cause__
        if cause is None or cause is seen:
            break
        seen = cause
    if isinstance(seen, ValueError) and type(seen).__module__.startswith("arenapref") or type(seen) is ValueError:
        return seen
    return err


def _check_rows(blocks: list[dict[str, Any]], reports: dict[int, dict[str, Any]],
                on_bad_row: str) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """(block, record) of every bad row and duplicate id over the whole input, in input order, and the
    number of duplicates; under ``error`` the first one is raised instead."""
    bad: list[tuple[int, int, dict[str, Any]]] = []
    all_keys, where = [], []
    for block in blocks:
        rep = reports[block["block"]]
        if "fatal" in rep:
            f = rep["fatal"]
            raise DataError(f["file"], f["reason"], line=f["line"], row_id=f["id"], field=f["field"])
        bad.extend((block["block"], b["line"] or 0, b) for b in rep["bad"])
        all_keys.append(rep["keys"])
        where.append(np.stack([np.full(len(rep["lines"]), block["block"]), rep["lines"]], axis=1)
                     if len(rep["lines"]) else np.zeros((0, 2), dtype=np.int64))
    keys = np.concatenate(all_keys) if all_keys else np.zeros(0, dtype=np.uint64)
    n_dupes = 0
    if len(keys):
        pos = np.concatenate(where)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        dupes = np.flatnonzero(first[inverse] != np.arange(len(keys)))
        n_dupes = len(dupes)
        for i in dupes:
            b, line = int(pos[i, 0]), int(pos[i, 1])
            fb, fline = int(pos[first[inverse[i]], 0]), int(pos[first[inverse[i]], 1])
            row_id = reports[b]["ids"][int(np.searchsorted(reports[b]["lines"], line))]
            first_where = f"line {fline}" + ("" if blocks[fb]["uri"] == blocks[b]["uri"] else f" of {blocks[fb]['uri']}")
            bad.append((b, line, {"file": blocks[b]["uri"], "line": line, "id": row_id, "field": "id",
                                  "reason": f"duplicate id (first seen on {first_where})"}))
    bad.sort(key=lambda t: (t[0], t[1]))
    if bad and on_bad_row == "error":
        f = bad[0][2]
        raise DataError(f["file"], f["reason"], line=f["line"], row_id=f["id"], field=f["field"])
    return [(b[0], b[2]) for b in bad], n_dupes


def run_ray_job(job: RayJob) -> RayResult:
    """Plan, validate, score and finish one job (see module doc); returns its counts."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    block_rows = _check_job(job)
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise ImportError("--engine ray needs Ray Data: pip install 'arenapref[ray]'") from None
    files = expand_inputs(job.inputs)
    record = job_record(job, files, block_rows)
    out_fs, out_path = _filesystem(job.output)
    for f in files:
        if f["uri"].startswith(out_path.rstrip("/") + "/"):
            raise ValueError(f"{f['uri']}: an input inside the output folder {job.output}")
    blocks = plan_blocks(files, block_rows)
    done = _check_output(job, record)  # refusals come before any work
    ray = _init_ray(job)
    result = RayResult(output=job.output, blocks=len(blocks))
    try:
        reports = _validate(ray, blocks, job)
        bad, n_dupes = _check_rows(blocks, reports, job.on_bad_row)
        skip_by_block: dict[int, list[int]] = {}
        for k, b in bad:
            skip_by_block.setdefault(k, []).append(b["line"])
        result.skipped = len(bad)
        result.total = sum(len(r["lines"]) for r in reports.values()) - n_dupes
        if result.total == 0:
            raise DataError(", ".join(job.inputs), f"no rows to score: all {len(bad)} rows are bad" if bad
                            else "empty input: no rows")
        if done is None:  # the input is valid: only now does anything get written
            _start_output(job, record)
            done = set()
        if job.on_bad_row == "skip":
            _publish(f"{job.output}/{SKIPPED_FILE}", lambda tmp: tmp.write_text(
                "".join(json.dumps(b, ensure_ascii=True) + "\n" for _, b in bad), encoding="utf-8"))
        todo = [b for b in blocks if shard_path("", b["block"], job.shard_format).lstrip("/") not in done]
        result.blocks_resumed = len(blocks) - len(todo)
        workers = _n_workers(ray, job, len(todo))
        result.workers = workers
        bar = tqdm(total=result.total, unit="rows", desc="batch (ray)", disable=not job.progress, file=sys.stderr)
        bar.update(result.total - sum(_rows_in(reports[b["block"]], skip_by_block.get(b["block"], []))
                                      for b in todo))
        sums: dict[str, float] = {}
        if todo:
            items = [{"spec": json.dumps({**b, "skip_lines": skip_by_block.get(b["block"], [])})} for b in todo]
            ds = ray.data.from_items(items, override_num_blocks=len(items))
            expected = {k: record[k] for k in ("run_fingerprint", "swap_tta")}
            scored = ds.map_batches(
                BlockScorer, batch_size=1, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                fn_constructor_kwargs={"run": str(record["run_dir"]), "swap_tta": job.swap_tta, "expected": expected,
                                       "output": job.output, "mode": job.mode, "shard_format": job.shard_format,
                                       "chunk_size": job.chunk_size, "min_confidence": job.min_confidence},
                num_cpus=1, num_gpus=job.gpus_per_worker or None)
            for row in scored.iter_rows():
                result.scored += int(row["rows"])
                result.kept += int(row["kept"])
                for k, v in json.loads(row["sums"]).items():
                    sums[k] = sums.get(k, 0.0) + v
                bar.update(int(row["rows"]))
        bar.close()
        result.sums = sums
    except Exception as err:
        unwrapped = _unwrap(err)
        if unwrapped is err:
            raise
        raise unwrapped from None
    result.seconds = time.perf_counter() - start
    _publish(f"{job.output}/{SUCCESS_FILE}", lambda tmp: tmp.write_text(json.dumps(
        {"rows": result.total, "skipped": result.skipped, "blocks": len(blocks),
         "shards": [shard_path("", b["block"], job.shard_format).lstrip("/") for b in blocks]}, indent=2) + "\n",
        encoding="utf-8"))
    return result


def _rows_in(report: dict[str, Any], skip: list[int]) -> int:
    skip_set = set(skip)
    return sum(1 for line in report["lines"] if int(line) not in skip_set)


def _validate(ray: Any, blocks: list[dict[str, Any]], job: RayJob) -> dict[int, dict[str, Any]]:
    items = [{"spec": json.dumps(b)} for b in blocks]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    reports: dict[int, dict[str, Any]] = {}
    for row in ds.map_batches(validate_blocks, batch_size=1, batch_format="numpy", num_cpus=1).iter_rows():
        rep = json.loads(row["report"])
        rep["lines"] = np.asarray(row["lines"], dtype=np.int64)
        rep["keys"] = np.asarray(row["keys"], dtype=np.uint64)
        rep["ids"] = json.loads(row["ids"])
        reports[int(row["block"])] = rep
    return reports


def _n_workers(ray: Any, job: RayJob, n_blocks: int) -> int:
    if job.workers is not None:
        return max(1, min(job.workers, max(n_blocks, 1)))
    resources = ray.cluster_resources()
    if job.gpus_per_worker:
        fit = int(resources.get("GPU", 0) // job.gpus_per_worker)
        if fit < 1:
            raise ValueError(f"--gpus-per-worker {job.gpus_per_worker}: the Ray cluster has "
                             f"{resources.get('GPU', 0):g} GPUs")
    else:
        fit = int(resources.get("CPU", 1))
    return max(1, min(fit, max(n_blocks, 1)))


def write_text(dest: str, text: str) -> None:
    """A small text file (e.g. a provenance record) into the output folder, atomically."""
    _publish(dest, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def pseudo_provenance(job: RayJob, result: RayResult) -> dict[str, Any]:
    """The provenance of a ``pseudo-label --engine ray`` job, the fields ``arenapref.pseudo`` writes."""
    from arenapref.runs import check_run_dir, read_json
    from arenapref.version import __version__

    run_dir = check_run_dir(job.run)
    metrics = read_json(run_dir / "metrics.json") if (run_dir / "metrics.json").exists() else {}
    sums = result.sums
    return {
        "kind": "pseudo-labels", "engine": "ray", "run_dir": str(Path(run_dir).resolve()),
        "model": read_json(run_dir / "model" / "model.json").get("type"),
        "teacher_cv_log_loss": metrics.get("log_loss"), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "arenapref_version": __version__, "swap_tta": _run_swap_tta(Path(run_dir), job.swap_tta),
        "min_confidence": job.min_confidence, "n_pool": result.total, "n_labelled": result.kept,
        "n_pool_rows_with_labels_replaced": None,  # not counted by the Ray workers
        "label_mass": {c: sums.get(c, 0.0) for c in LABEL_COLUMNS},
        "mean_confidence": sums.get("confidence", 0.0) / result.total if result.total else None,
        "sources": {k.removeprefix("source:"): int(v) for k, v in sums.items() if k.startswith("source:")},
        "pool_paths": job.inputs, "skipped_rows": result.skipped,
    }
