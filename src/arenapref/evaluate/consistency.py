"""How much a judge's verdict depends on which answer is shown first (before swap averaging).

``direct`` are the probabilities for the pairs as given, ``swapped`` for the same pairs with A and B
exchanged (columns still in the swapped orientation), both predicted *without* swap TTA. A symmetric
judge has ``swapped == direct[:, [1, 0, 2]]``; the figures below measure the distance from that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from arenapref.data.schema import swap_proba


def swap_consistency(direct: np.ndarray, swapped: np.ndarray) -> dict[str, Any]:
    """Flip rate, position bias and gap statistics of one set of pairs (see module doc).

    * ``flip_rate``: share of pairs whose verdict (argmax) changes when A and B are swapped
    * ``mean_first_position_advantage``: mean of P(first shown wins) − P(second shown wins), over both
      orders; > 0 means the judge favours whichever answer it reads first
    * ``first_shown_preferred``: among decisive verdicts (A or B) in both orders, the share that picks
      the first-shown answer (0.5 = no position bias)
    * ``mean_abs_gap`` / ``p95_abs_gap``: |P(A wins | x) − P(A wins | swapped x)|, per pair
    """
    direct = np.asarray(direct, dtype=float).reshape(-1, 3)
    swapped = np.asarray(swapped, dtype=float).reshape(-1, 3)
    back = swap_proba(swapped)
    gaps = np.abs(direct[:, 0] - swapped[:, 1])
    verdicts = np.concatenate([direct.argmax(axis=1), swapped.argmax(axis=1)])
    decisive = verdicts != 2
    n = len(direct)
    return {
        "n": int(n),
        "flip_rate": float((direct.argmax(axis=1) != back.argmax(axis=1)).mean()) if n else 0.0,
        "mean_abs_gap": float(gaps.mean()) if n else 0.0,
        "p95_abs_gap": float(np.quantile(gaps, 0.95)) if n else 0.0,
        "mean_first_position_advantage": float((0.5 * ((direct[:, 0] - direct[:, 1])
                                                       + (swapped[:, 0] - swapped[:, 1]))).mean()) if n else 0.0,
        "first_shown_preferred": float((verdicts[decisive] == 0).mean()) if decisive.any() else 0.5,
        "gaps": gaps,
    }
