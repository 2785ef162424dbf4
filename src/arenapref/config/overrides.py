"""``--set KEY.PATH=VALUE`` overrides: parsed as YAML scalars, applied to the recipe before validation."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from arenapref.config.errors import ConfigError
from arenapref.config.yaml_io import parse_value

# a key segment: anything but whitespace, dots and '=' (source names such as "pseudo:auto-j" are keys too)
_SEGMENT = re.compile(r"[^\s.=]+")


@dataclass(frozen=True)
class Override:
    """One value put at ``path`` (replacing what was there); ``source`` is how the user wrote it."""

    path: tuple[str, ...]
    value: Any
    source: str


def parse_set(text: str) -> Override:
    """``model.params.lgb_params.num_leaves=15`` → Override(("model", ..., "num_leaves"), 15)."""
    source = f"--set {text}"
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{source}: expected KEY.PATH=VALUE, e.g. --set model.params.lgb_params.num_leaves=15")
    parts = tuple(key.split("."))
    bad = next((p for p in parts if not _SEGMENT.fullmatch(p)), None)
    if bad is not None:
        what = "an empty key segment" if not bad else f"key segment {bad!r}"
        raise ConfigError(f"{source}: {what} in {key!r}; write KEY.PATH=VALUE with dots between keys")
    try:
        value = parse_value(raw)
    except ValueError as err:
        raise ConfigError(f"{source}: {err}") from None
    return Override(parts, value, source)


def flag(path: str, value: Any, source: str) -> Override:
    """An override from a dedicated flag (``--folds 3`` → cv.n_folds)."""
    return Override(tuple(path.split(".")), value, source)


def apply_overrides(config: dict[str, Any], overrides: list[Override]) -> dict[str, Any]:
    """A copy of ``config`` with each override's value put at its path (later ones win)."""
    out = copy.deepcopy(config)
    for over in overrides:
        node = out
        for key in over.path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}  # a scalar or null on the way becomes a mapping: the schema judges the result
            node = node[key]
        node[over.path[-1]] = copy.deepcopy(over.value)
    return out


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
