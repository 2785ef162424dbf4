"""Recipe configs: YAML files merged over defaults; the resolved config is saved with every run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "seed": 42,
    "cv": {"n_folds": 5},
    "data": {"on_bad_row": "error", "allow_soft_labels": False},
    "model": {"type": "gbdt", "params": {}},
    "predict": {"swap_tta": True},
}
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path as given, or the name of a bundled recipe (``cpu-default``)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    bundled = CONFIG_DIR / f"{Path(str(name_or_path)).stem}.yaml"
    if bundled.exists():
        return bundled
    raise FileNotFoundError(f"{name_or_path}: no such config file (bundled recipes: "
                            f"{sorted(p.stem for p in CONFIG_DIR.glob('*.yaml'))})")


def load_config(name_or_path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    config = copy.deepcopy(DEFAULTS)
    if name_or_path is not None:
        path = resolve_config_path(name_or_path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as err:
            raise ValueError(f"{path}: not valid YAML ({err})") from None
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: a config must be a mapping at the top level")
        config = deep_merge(config, loaded)
    if overrides:
        config = deep_merge(config, overrides)
    return config
