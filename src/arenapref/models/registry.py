"""Model families by name; ``build_model`` makes one from a config, ``load_model`` reads a saved one.

Heavy families (transformers) are registered as import paths so that the core never imports torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from arenapref.models.base import PreferenceModel
from arenapref.runs import RunError, write_json

MODEL_TYPES: dict[str, str] = {
    "prior": "arenapref.models.prior:PriorModel",
    "length": "arenapref.models.length:LengthModel",
    "gbdt": "arenapref.models.gbdt:GBDTModel",
    "blend": "arenapref.ensemble.model:BlendModel",
    "llm": "arenapref.models.llm.model:LLMClassifier",
}
MANIFEST = "model.json"


def model_class(kind: str) -> type[PreferenceModel]:
    if kind not in MODEL_TYPES:
        raise ValueError(f"unknown model type {kind!r}; known: {sorted(MODEL_TYPES)}")
    module_name, attr = MODEL_TYPES[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(f"model type {kind!r} needs an optional dependency that is not installed ({err}); "
                          f"see the README's install extras") from err
    return getattr(module, attr)


def build_model(spec: dict[str, Any]) -> PreferenceModel:
    """``spec`` is the ``model:`` section of a config: ``{"type": NAME, "params": {...}}``."""
    if "type" not in spec:
        raise ValueError(f"model config needs a 'type' (one of {sorted(MODEL_TYPES)})")
    params = dict(spec.get("params") or {})
    try:
        return model_class(spec["type"])(**params)
    except TypeError as err:
        raise ValueError(f"bad params for model type {spec['type']!r}: {err}") from None


def save_model(model: PreferenceModel, path: str | Path) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save(path)
    write_json(path / MANIFEST, {"type": model.name})


def load_model(path: str | Path) -> PreferenceModel:
    """The saved model in ``path``; callers check the run's manifest first (``runs.Run.open``)."""
    from arenapref.models.state import read_state, require

    path = Path(path)
    where = path / MANIFEST
    kind = require(read_state(where), "type", str, where)
    if kind not in MODEL_TYPES:
        raise RunError(f"{where}: unknown model type {kind!r} (known: {sorted(MODEL_TYPES)})")
    try:
        return model_class(kind).load(path)
    except RunError:
        raise
    except (KeyError, TypeError, IndexError, AttributeError) as err:
        raise RunError(f"{path}: damaged {kind} model ({type(err).__name__}: {str(err)[:160]})") from None
