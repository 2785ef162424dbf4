"""Run directories and artifact I/O.

A run directory holds everything one ``train`` (or ``blend``) produced::

    RUN_DIR/
      config.yaml        the resolved config (recipe + data paths + seed)
      run.json           kind of run, versions, timing, data summary
      metrics.json       per-fold and overall log loss / accuracy next to the baselines
      oof.parquet        out-of-fold predictions: id, fold, label columns, pred_a, pred_b, pred_tie
      model/             the final model fit on all rows (``models.load_model`` reads it)

A run directory is written under a temporary name and renamed into place when complete, so a crash
never leaves a half-written run; an existing directory is refused unless ``force=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

MANIFEST_NAME = "manifest.json"
# bump when the layout of a run directory changes in a way older code cannot read
FORMAT_VERSION = 1
# a manifest this size is far beyond any real run; a bigger one is not read at all
MAX_MANIFEST_BYTES = 8 << 20


class OutputExistsError(FileExistsError):
    """Refusing to overwrite something the user already has."""


class RunError(ValueError):
    """A run directory that cannot be trusted or read: missing, damaged, or of another format.

    The message is one line that names the file; the CLI prints it and exits with status 2.
    """


class OutputError(ValueError):
    """An output that cannot be written where the user asked (checked before any long work)."""


def check_writable(path: str | Path) -> None:
    """Fail now, in one line, if ``path`` could not be created later: its nearest existing ancestor
    must be a folder we can write in (a probe file is created and removed there)."""
    path = Path(path)
    probe = path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise OutputError(f"{path}: cannot be created ({probe} is a file, not a folder)")
    try:
        fd, name = tempfile.mkstemp(prefix=".arenapref-write-check.", dir=probe)
    except OSError as err:
        raise OutputError(f"{path}: cannot be created ({probe} is not writable: {err.strerror})") from None
    os.close(fd)
    os.unlink(name)


def refuse_existing(path: Path, *, force: bool, what: str = "output") -> None:
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: {what} already exists; pass --force to replace it")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path next to ``path``; it replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_dir(path: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``path`` when the block succeeds (replacing it if forced)."""
    path = Path(path)
    refuse_existing(path, force=force, what="run directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a run directory is an ordinary folder
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_default, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_yaml(path: str | Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(json.loads(json.dumps(obj, default=_default)), sort_keys=False),
                       encoding="utf-8")


def read_yaml(path: str | Path) -> Any:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def write_array(path: str | Path, array: np.ndarray) -> None:
    """A numeric array as ``.npy`` (never an object array: those need pickle to read)."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{path}: only numeric arrays are saved, got dtype {array.dtype}")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)


def read_array(path: str | Path, *, ndim: int | None = None) -> np.ndarray:
    """A numeric ``.npy`` array; pickled or non-numeric content is refused before it is parsed."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise RunError(f"{path}: damaged or not a numeric .npy array ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise RunError(f"{path}: not a numeric array")
    if ndim is not None and array.ndim != ndim:
        raise RunError(f"{path}: expected a {ndim}-d array, got shape {array.shape}")
    return array


def read_oof(run_dir: str | Path) -> pd.DataFrame:
    return Run.open(run_dir).oof()


def read_json_object(path: str | Path, *, max_bytes: int = 256 << 20) -> dict[str, Any]:
    """A JSON object from a run file, or a one-line :class:`RunError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: missing")
    if path.stat().st_size > max_bytes:
        raise RunError(f"{path}: too large for this kind of file")
    try:
        obj = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise RunError(f"{path}: damaged (not valid JSON: {type(err).__name__})") from None
    if not isinstance(obj, dict):
        raise RunError(f"{path}: damaged (expected a JSON object)")
    return obj


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML mapping (safe loader: plain data only), or a one-line :class:`RunError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        obj = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as err:
        raise RunError(f"{path}: damaged (not valid YAML: {type(err).__name__})") from None
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise RunError(f"{path}: damaged (expected a mapping)")
    return obj


@dataclass(frozen=True)
class Run:
    """A run directory opened for reading: its manifest checked against every file first.

    ``Run.open`` is the only way the project reads a run (predict, compare, batch, serve, pseudo-label,
    blend, report, the Python API): nothing inside is parsed before its size and sha256 match the
    manifest, so a damaged or tampered run is refused in one line naming the file.
    """

    path: Path
    manifest: dict[str, Any] = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    info: dict[str, Any] = field(repr=False)
    metrics: dict[str, Any] = field(repr=False)

    @classmethod
    def open(cls, path: str | Path) -> Run:
        path = Path(path)
        if not path.exists():
            raise RunError(f"{path}: no such run directory (make one with `arenapref train`)")
        if not path.is_dir():
            raise RunError(f"{path}: not a run directory (it is a file)")
        manifest = verify_run(path)
        if not any(rel.startswith("model/") for rel in manifest["files"]):
            raise RunError(f"{path}: not a run directory (no model/ in {MANIFEST_NAME})")

        def optional(name: str, reader: Any) -> dict[str, Any]:
            return reader(path / name) if name in manifest["files"] else {}

        return cls(path=path, manifest=manifest, config=optional("config.yaml", read_yaml_mapping),
                   info=optional("run.json", read_json_object), metrics=optional("metrics.json", read_json_object))

    @property
    def name(self) -> str:
        return self.path.resolve().name

    @property
    def model_dir(self) -> Path:
        return self.path / "model"

    @property
    def fingerprint(self) -> str:
        return run_fingerprint(self.path)

    @property
    def predict_settings(self) -> dict[str, Any]:
        """The recipe's ``predict:`` section (swap averaging on unless turned off)."""
        section = self.config.get("predict") or {}
        if not isinstance(section, dict):
            raise RunError(f"{self.path / 'config.yaml'}: damaged ('predict' is not a mapping)")
        swap = section.get("swap_tta", True)
        if not isinstance(swap, bool):
            raise RunError(f"{self.path / 'config.yaml'}: predict.swap_tta must be true or false, got {swap!r}")
        return {"swap_tta": swap}

    def oof(self) -> pd.DataFrame:
        if "oof.parquet" not in self.manifest["files"]:
            raise RunError(f"{self.path}: has no oof.parquet (out-of-fold predictions)")
        try:
            return pd.read_parquet(self.path / "oof.parquet")
        except (OSError, ValueError) as err:
            raise RunError(f"{self.path / 'oof.parquet'}: damaged ({str(err).splitlines()[0][:120]})") from None


def check_run_dir(run_dir: str | Path) -> Path:
    """A run directory whose manifest matches its files (see :class:`Run`); its path."""
    return Run.open(run_dir).path


# ----------------------------------------------------------------------------- manifest
def file_sha256(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _run_files(run_dir: Path) -> list[Path]:
    files = [p for p in run_dir.rglob("*") if p.is_file() or p.is_symlink()]
    return sorted(p for p in files if p.name != MANIFEST_NAME or p.parent != run_dir)


def write_manifest(run_dir: str | Path) -> dict[str, Any]:
    """Record the format version and the size and sha256 of every file; written last, when complete."""
    run_dir = Path(run_dir)
    entries = {}
    for path in _run_files(run_dir):
        if path.is_symlink():
            raise RunError(f"{path}: a run directory holds plain files only, not links")
        rel = path.relative_to(run_dir).as_posix()
        entries[rel] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    from arenapref.version import __version__

    manifest = {"format": "arenapref-run", "format_version": FORMAT_VERSION,
                "arenapref_version": __version__, "files": entries}
    write_json(run_dir / MANIFEST_NAME, manifest)
    return manifest


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """The manifest of a run directory, checked for shape (not yet against the files)."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST_NAME
    if not path.is_file():
        raise RunError(f"{path}: missing; this run was not written completely by arenapref (or by a version "
                       "before run manifests): retrain it")
    manifest = read_json_object(path, max_bytes=MAX_MANIFEST_BYTES)
    if manifest.get("format") != "arenapref-run":
        raise RunError(f"{path}: not an arenapref run manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise RunError(f"{path}: run format version {version!r}, this arenapref reads version {FORMAT_VERSION}; "
                       "retrain the run with this version")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) and isinstance(v.get("bytes"), int)
            and isinstance(v.get("sha256"), str) for k, v in files.items()):
        raise RunError(f"{path}: damaged (the file list is malformed)")
    for rel in files:
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or not parts:
            raise RunError(f"{path}: lists a path outside the run directory ({rel!r})")
    return manifest


def verify_run(run_dir: str | Path, *, under: str | None = None) -> dict[str, Any]:
    """Check every file the manifest lists (size, then sha256) before anything parses them.

    ``under`` restricts the check to files below that sub-folder (e.g. ``model``). Files that are
    present but not listed are ignored: they are never read. Returns the manifest.
    """
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    prefix = None if under is None else under.rstrip("/") + "/"
    for rel, entry in manifest["files"].items():
        if prefix is not None and not rel.startswith(prefix):
            continue
        path = run_dir / rel
        if path.is_symlink() or not path.is_file():
            raise RunError(f"{path}: missing (listed in {MANIFEST_NAME}); the run directory is incomplete")
        size = path.stat().st_size
        if size != entry["bytes"]:
            raise RunError(f"{path}: damaged ({size:,} bytes, {MANIFEST_NAME} says {entry['bytes']:,})")
        if file_sha256(path) != entry["sha256"]:
            raise RunError(f"{path}: damaged (its sha256 differs from {MANIFEST_NAME})")
    return manifest


def run_fingerprint(run_dir: str | Path) -> str:
    """A short hash that changes whenever any file of the run changes (the sha256 of its manifest)."""
    path = Path(run_dir) / MANIFEST_NAME
    read_manifest(run_dir)
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
