"""Optional post-processing rules for two situations a text model can misjudge (off by default, measured).

* ``identical``: both responses are the same text. Which side "wins" is then noise, so the prediction is
  pulled towards the label distribution of identical pairs in the training rows (made A/B-symmetric).
* ``one_empty``: one response is empty (every turn blank) and the other is not. The prediction is pulled
  towards the training distribution of "empty side vs. non-empty side", oriented per row.

The pull is ``p' = (1 - α) p + α r`` with ``α = n / (n + strength)``, ``n`` the number of matching training
rows: with few examples the rule barely moves the model; without any it does nothing. Only labels of the
training rows are used, so the rule needs no nesting to be measured honestly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.schema import swap_proba
from arenapref.metrics import normalise_proba

RULES = ("identical", "one_empty")


def _blank(turns: list[str]) -> bool:
    return all(not (t or "").strip() for t in turns)


def rule_masks(pairs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean masks: ``identical``, ``empty_a`` (A blank, B not), ``empty_b`` (B blank, A not)."""
    blank_a = np.array([_blank(list(t)) for t in pairs["response_a"]], dtype=bool)
    blank_b = np.array([_blank(list(t)) for t in pairs["response_b"]], dtype=bool)
    identical = np.array([list(a) == list(b) for a, b in zip(pairs["response_a"], pairs["response_b"])], dtype=bool)
    return {"identical": identical, "empty_a": blank_a & ~blank_b, "empty_b": blank_b & ~blank_a}


class PostRules:
    def __init__(self, strength: float = 10.0) -> None:
        self.strength = strength

    def fit(self, masks: dict[str, np.ndarray], targets: np.ndarray) -> PostRules:
        same = targets[masks["identical"]]
        same = np.vstack([same, swap_proba(same)]) if len(same) else same
        # "empty side is A": rows with A blank as they are, rows with B blank swapped
        empty = np.vstack([targets[masks["empty_a"]], swap_proba(targets[masks["empty_b"]])])
        self.rules_ = {
            "identical": self._rule(same, n=int(masks["identical"].sum())),
            "one_empty": self._rule(empty, n=len(empty)),
        }
        return self

    def _rule(self, rows: np.ndarray, n: int) -> dict[str, Any]:
        dist = rows.mean(axis=0) if len(rows) else np.full(3, 1.0 / 3.0)
        return {"n": n, "alpha": n / (n + self.strength), "distribution": dist.tolist()}

    def transform(self, proba: np.ndarray, masks: dict[str, np.ndarray]) -> np.ndarray:
        out = np.array(proba, dtype=float, copy=True)
        same, empty = self.rules_["identical"], self.rules_["one_empty"]
        r_same = np.asarray(same["distribution"])
        r_empty = np.asarray(empty["distribution"])
        out[masks["empty_a"]] = (1 - empty["alpha"]) * out[masks["empty_a"]] + empty["alpha"] * r_empty
        out[masks["empty_b"]] = ((1 - empty["alpha"]) * out[masks["empty_b"]]
                                 + empty["alpha"] * swap_proba(r_empty[None, :])[0])
        out[masks["identical"]] = (1 - same["alpha"]) * out[masks["identical"]] + same["alpha"] * r_same
        return normalise_proba(out)

    def state(self) -> dict[str, Any]:
        return {"strength": self.strength, "rules": self.rules_}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PostRules:
        rules = cls(strength=float(state["strength"]))
        rules.rules_ = state["rules"]
        return rules
