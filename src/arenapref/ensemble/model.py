"""A blend as a :class:`~arenapref.models.base.PreferenceModel`: member models + the fitted recipe.

Saved layout (``RUN_DIR/model/``)::

    model.json        {"type": "blend"}
    blend.json        spec, member names, fitted combiner / calibrator / rules
    members/0/ ...    a copy of each member run's model/ directory (loadable with ``load_model``)

Copies rather than references: a blend directory keeps working when the member runs are moved or
deleted. Every stage is swap-equivariant, so with ``swap_tta=True`` (members predict symmetrically) the
blend's output is exactly symmetric under swapping A and B.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref.ensemble.pipeline import BlendSpec, FittedBlend
from arenapref.ensemble.rules import rule_masks
from arenapref.runs import read_json, write_json

STATE_FILE = "blend.json"


class BlendModel:
    name = "blend"

    def __init__(self, spec: BlendSpec, fitted: FittedBlend, members: list[Any],
                 member_names: list[str] | None = None) -> None:
        self.spec = spec
        self.fitted = fitted
        self.members = members
        self.member_names = member_names or [f"member_{i}" for i in range(len(members))]
        self._member_dirs: list[Path] = []

    @classmethod
    def from_runs(cls, spec: BlendSpec, fitted: FittedBlend, run_dirs: list[Path]) -> BlendModel:
        """A blend whose members are the ``model/`` folders of ``run_dirs`` (copied on save)."""
        model = cls(spec, fitted, members=[None] * len(run_dirs), member_names=[p.name for p in run_dirs])
        model._member_dirs = [Path(p) / "model" for p in run_dirs]
        return model

    def _member(self, i: int) -> Any:
        if self.members[i] is None:
            from arenapref.models.registry import load_model

            self.members[i] = load_model(self._member_dirs[i])
        return self.members[i]

    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> BlendModel:
        raise ValueError("a blend is fitted from member runs' out-of-fold predictions: use `arenapref blend`, "
                         "not `arenapref train`")

    def member_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        """(k, n, 3): every member's prediction."""
        return np.stack([self._member(i).predict_proba(pairs, swap_tta=swap_tta) for i in range(len(self.members))])

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        if len(pairs) == 0:
            return np.zeros((0, 3))
        masks = rule_masks(pairs) if self.fitted.rules is not None else None
        return self.fitted.transform(self.member_proba(pairs, swap_tta=swap_tta), masks)

    def save(self, path: Path) -> None:
        path = Path(path)
        for i in range(len(self.members)):
            target = path / "members" / str(i)
            if self._member_dirs:
                shutil.copytree(self._member_dirs[i], target)
            else:
                from arenapref.models.registry import save_model

                save_model(self.members[i], target)
        write_json(path / STATE_FILE, {"spec": self.spec.to_dict(), "members": self.member_names,
                                       **self.fitted.state()})

    @classmethod
    def load(cls, path: Path) -> BlendModel:
        path = Path(path)
        state = read_json(path / STATE_FILE)
        model = cls(BlendSpec(**state["spec"]), FittedBlend.from_state(state),
                    members=[None] * len(state["members"]), member_names=state["members"])
        model._member_dirs = [path / "members" / str(i) for i in range(len(state["members"]))]
        return model
