"""The public preference sets that sit beside the arena data folder, converted once into a cache.

A data folder laid out like the workspace's ``shared/data`` holds ``arena-55k/`` (the Kaggle files)
and, beside it, public sets in their own formats (``mt-bench-human/``, ``pandalm/``, ...). A recipe
names them in ``data.extra`` as ``public:NAME``; :func:`resolve_extra` turns each name into a
canonical JSONL file in the cache (converted on first use, keyed by the sha256 of the input files,
the format and the arenapref version) and drops the names whose files are absent, so a machine that
holds only the Kaggle files still runs the recipe. ``data.extra_max_rows`` caps each public set (a
seeded sample): the demo's time budget, and the measured gain of capped sets was no smaller.

Cache folder: ``$ARENAPREF_CACHE/public`` or ``~/.cache/arenapref/public``. Every cached file is
written atomically; a stale key is simply never read again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from arenapref.data.readers import FORMAT_READERS, concat_pairs, read_pairs, write_pairs
from arenapref.version import __version__

PREFIX = "public:"
ARENA_SOURCE = "arena"
CACHE_ENV = "ARENAPREF_CACHE"


@dataclass(frozen=True)
class PublicSet:
    name: str               # also the value of the ``source`` column of its rows
    files: tuple[str, ...]  # relative to the shared data folder; all must exist
    fmt: str                # a key of readers.FORMAT_READERS


# LLMBar's Processed_MT-Bench.json and Processed_LLMEval_2.json are copies of mt-bench-human and
# llmeval2 rows (docs/data.md, "Leaks between sets"): left out so no pair is pooled twice.
PUBLIC_SETS: tuple[PublicSet, ...] = (
    PublicSet("mt-bench-human", ("mt-bench-human/mt_bench_human.jsonl",), "mt-bench"),
    PublicSet("pandalm", ("pandalm/testset-v1.json",), "pandalm"),
    PublicSet("auto-j", ("auto-j/testdata_pairwise.jsonl",), "autoj"),
    PublicSet("llmbar", tuple(f"llmbar/{n}.json" for n in (
        "LLMBar_Natural", "LLMBar_Adversarial_GPTInst", "LLMBar_Adversarial_GPTOut",
        "LLMBar_Adversarial_Manual", "LLMBar_Adversarial_Neighbor", "Processed_FairEval")), "llmbar"),
    PublicSet("llmeval2", ("llmeval2/llmeval2_with_ties.jsonl",), "canonical"),
    PublicSet("hh-rlhf", ("hh-rlhf/harmless-base-test.jsonl.gz",), "hh-rlhf"),
    PublicSet("copilot-arena", ("copilot-arena/copilot_arena_examples_v1.csv",), "copilot-arena"),
    # real Chatbot Arena votes (no ties): same domain as the Kaggle rows
    PublicSet("arena-llama3-70b-battles", ("arena-llama3-70b/battles.jsonl",), "canonical"),
)
BY_NAME = {s.name: s for s in PUBLIC_SETS}


def cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else Path.home() / ".cache" / "arenapref") / "public"


def files_key(paths: list[Path], *parts: str) -> str:
    """sha256 over the bytes of ``paths`` and ``parts``: a changed file or reader version is a new key."""
    digest = hashlib.sha256()
    for part in (__version__, *parts):
        digest.update(part.encode() + b"\0")
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:20]


def _read(paths: list[Path], fmt: str, source: str) -> pd.DataFrame:
    if fmt == "canonical":
        frames = [read_pairs(p) for p in paths]
    else:
        frames = [FORMAT_READERS[fmt](p, on_bad_row="skip")[0] for p in paths]
    return concat_pairs(frames, what=" + ".join(str(p) for p in paths)).assign(source=source)


def cached_canonical(name: str, paths: list[Path], fmt: str, *, source: str | None = None,
                     max_rows: int | None = None, seed: int = 42, cache: Path | None = None,
                     log: Callable[[str], None] = print) -> Path:
    """``paths`` (format ``fmt``) as one canonical JSONL file with ``source`` set, converted once;
    ``max_rows``: a seeded sample of that many rows (the same rows on every machine for the same files)."""
    source = source or name
    cache = cache or cache_dir()
    cap = f"-max{max_rows}-seed{seed}" if max_rows else ""
    target = cache / f"{name}{cap}-{files_key(paths, fmt, source, cap)}.jsonl"
    if not target.exists():
        frame = _read(paths, fmt, source)
        total = len(frame)
        if max_rows and total > max_rows:
            frame = frame.sample(n=max_rows, random_state=seed).sort_index()
        write_pairs(frame, target)
        log(f"converted {name}: {len(frame):,} of {total:,} rows -> {target}")
    return target


def available(shared_dir: Path | None) -> list[PublicSet]:
    """The public sets whose files are all present under ``shared_dir``."""
    if shared_dir is None:
        return []
    return [s for s in PUBLIC_SETS if all((shared_dir / f).is_file() for f in s.files)]


def resolve_extra(entries: list[str], shared_dir: Path | None, *, max_rows: int | None = None, seed: int = 42,
                  cache: Path | None = None, log: Callable[[str], None] = print) -> list[str]:
    """``data.extra`` with each ``public:NAME`` replaced by its cached canonical file (at most ``max_rows``
    rows, a seeded sample); absent sets dropped. Plain paths pass through unchanged."""
    out: list[str] = []
    missing: list[str] = []
    for entry in entries:
        entry = str(entry)
        if not entry.startswith(PREFIX):
            out.append(entry)
            continue
        name = entry[len(PREFIX):]
        if name not in BY_NAME:
            raise ValueError(f"data.extra: unknown public set {name!r} (known: {sorted(BY_NAME)})")
        spec = BY_NAME[name]
        paths = [shared_dir / f for f in spec.files] if shared_dir is not None else []
        if not paths or not all(p.is_file() for p in paths):
            missing.append(name)
            continue
        out.append(str(cached_canonical(name, paths, spec.fmt, max_rows=max_rows, seed=seed, cache=cache, log=log)))
    if missing:
        log(f"public sets not found beside the arena data (skipped): {', '.join(missing)}")
    return out


def arena_canonical(files: list[Path], *, cache: Path | None = None,
                    log: Callable[[str], None] = print) -> Path:
    """The arena training files as one canonical JSONL with ``source = arena`` (what ``source_feature``
    of a recipe with extra data names as the target domain)."""
    name = "arena-" + "+".join(f.stem for f in files)
    target = (cache or cache_dir()) / f"{name}-{files_key(files, ARENA_SOURCE)}.jsonl"
    if not target.exists():
        frame = concat_pairs([read_pairs(p) for p in files], what=" + ".join(map(str, files)))
        write_pairs(frame.assign(source=ARENA_SOURCE), target)
        log(f"converted the arena rows: {len(frame):,} rows -> {target}")
    return target
