"""Recipe files: finding one (a path or a bundled name), reading it, and the ``extends:`` chain.

A recipe may start with ``extends: NAME_OR_PATH``: the base recipe's mapping is read (recursively: a base
may extend another) and the file is deep-merged over it (mappings key by key; a list or scalar replaces).
The chain is resolved here, before overrides and validation, so the resolved recipe never holds ``extends``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arenapref.config.errors import ConfigError
from arenapref.config.overrides import deep_merge
from arenapref.config.schema import show
from arenapref.config.yaml_io import load_yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
MAX_EXTENDS = 8  # a longer chain is a mistake, not a design
_NO_BASE = object()  # `extends: null` is an error, so None cannot mean "no base"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path as given, or the name of a bundled recipe (``cpu-default``)."""
    path = Path(name_or_path)
    # is_file, not exists: a run directory named like a recipe (runs/cpu-best) must not shadow it
    if path.is_file():
        return path
    bundled = CONFIG_DIR / f"{Path(str(name_or_path)).stem}.yaml"
    if bundled.is_file():
        return bundled
    raise FileNotFoundError(f"{name_or_path}: no such config file (bundled recipes: {bundled_recipes()})")


def bundled_recipes() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def read_recipe_file(path: Path) -> dict[str, Any]:
    """One file's mapping as written (``extends`` included)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise ConfigError(f"{path}: cannot read ({err.strerror or err})") from None
    loaded = load_yaml(text, str(path))
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections at the top level, got {type(loaded).__name__}")
    return loaded


@dataclass(frozen=True)
class Layer:
    """One file of an ``extends`` chain and the keys it writes itself (without ``extends``)."""

    path: Path
    own: dict[str, Any]


def read_chain(path: Path) -> list[Layer]:
    """``path`` and the recipes it extends, the file itself first and the last base at the end."""
    chain: list[Layer] = []
    current = path
    while True:
        raw = read_recipe_file(current)
        ref = raw.pop("extends", _NO_BASE)
        chain.append(Layer(current, raw))
        if ref is _NO_BASE:
            break
        if not isinstance(ref, str) or not ref.strip():
            raise ConfigError(f"{current}: extends: must be a bundled recipe name or a path, got {show(ref)}")
        current = _base_path(ref, current)
        seen = [layer.path.resolve() for layer in chain]
        if current.resolve() in seen:
            cycle = [layer.path for layer in chain[seen.index(current.resolve()):]] + [current]
            raise ConfigError(f"{path}: extends: a cycle: {' extends '.join(str(p) for p in cycle)}")
        if len(chain) > MAX_EXTENDS:
            raise ConfigError(f"{path}: extends: more than {MAX_EXTENDS} levels "
                              f"({' extends '.join(str(layer.path) for layer in chain)} extends ...)")
    return chain


def merged(chain: list[Layer]) -> dict[str, Any]:
    """The chain's mappings merged, each file over the recipes it extends."""
    out: dict[str, Any] = {}
    for layer in reversed(chain):
        out = deep_merge(out, layer.own)
    return out


def _base_path(ref: str, extending: Path) -> Path:
    """Beside the extending file first (a recipe's folder travels with it), then as given, then bundled."""
    beside = extending.parent / ref
    if beside.is_file():
        return beside
    # is_file, not exists: a folder that happens to share a bundled recipe's name must not shadow it
    if Path(ref).is_file():
        return Path(ref)
    bundled = CONFIG_DIR / f"{Path(ref).stem}.yaml"
    if bundled.is_file():
        return bundled
    raise ConfigError(f"{extending}: extends: {show(ref)}: no such recipe (not a file beside it or as given, "
                      f"nor a bundled recipe: {', '.join(bundled_recipes())})")
