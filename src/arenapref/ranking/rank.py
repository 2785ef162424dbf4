"""Rank N answers to one prompt: every pair scored by the judge (swap-averaged), one Davidson–BT fit.

Best-of-N selection needs one number per answer; averaging raw pairwise win probabilities would do for
a complete round robin, but the BT strengths also say *how much* better, on a scale (Elo) that is
comparable between prompts, and the fitted model gives the expected win probability against the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from arenapref.data.inputs import InputError, clean_pair, pairs_frame
from arenapref.ranking.bt import ELO_SCALE, expected_scores, fit_bt

Text = str | Sequence[str]


@dataclass(frozen=True)
class RankResult:
    """Answers ranked by strength. Index ``i`` refers to the i-th answer as given."""

    strengths: list[float]       # logit-scale BT strengths, mean zero
    ratings: list[float]         # the same on the Elo scale, mean 1000
    expected_win: list[float]    # mean over the other answers of P(this one wins), under the fitted model
    expected_score: list[float]  # the same with ties counted half
    order: list[int]             # answer indices, best first
    pairwise: list[list[list[float]]]  # [i][j] = judge's [P(i wins), P(j wins), P(tie)]; i == j: NaN
    tie_nu: float                # Davidson tie parameter (P(tie) between equals is nu / (2 + nu))
    swap_tta: bool = True

    @property
    def best(self) -> int:
        return self.order[0]

    def to_dict(self) -> dict[str, Any]:
        answers = [{"index": i, "rank": self.order.index(i) + 1, "strength": self.strengths[i],
                    "rating": self.ratings[i], "expected_win": self.expected_win[i],
                    "expected_score": self.expected_score[i]} for i in range(len(self.strengths))]
        pairwise = [[None if i == j else {"p_first": p[0], "p_second": p[1], "p_tie": p[2]}
                     for j, p in enumerate(row)] for i, row in enumerate(self.pairwise)]
        return {"best": self.best, "order": self.order, "answers": answers, "pairwise": pairwise,
                "tie_nu": self.tie_nu, "swap_tta": self.swap_tta}


def rank_answers(judge: Any, prompt: Text, answers: Sequence[Text]) -> RankResult:
    """Score all ``N(N-1)/2`` pairs of ``answers`` with ``judge`` (swap TTA on) and fit Davidson–BT.

    A bad answer raises :class:`arenapref.api.InputError` naming it (``answers[i]``); fewer than two
    answers is an error too. Answers that are textually identical get identical strengths.
    """
    answers = list(answers)
    if len(answers) < 2:
        raise InputError("answers", f"need at least 2 answers to rank, got {len(answers)}")
    index_pairs = list(combinations(range(len(answers)), 2))
    rows = []
    for k, (i, j) in enumerate(index_pairs):
        try:
            rows.append(clean_pair(prompt, answers[i], answers[j], row_id=str(k)))
        except InputError as err:
            field = err.field
            if field == "response_a":
                field = f"answers[{i}]"
            elif field == "response_b":
                field = f"answers[{j}]"
            raise InputError(field, err.reason) from None
    # swap-averaged: the verdict of (i, j) is exactly the mirror of (j, i), so the order in which the pairs
    # are formed cannot move the ranking
    proba = np.asarray(judge.predict_pairs(pairs_frame(rows), swap_tta=True), dtype=float)
    first = np.array([i for i, _ in index_pairs])
    second = np.array([j for _, j in index_pairs])
    fit = fit_bt(first, second, proba, len(answers))
    win, score = expected_scores(fit.theta, fit.log_nu)
    n = len(answers)
    pairwise = np.full((n, n, 3), np.nan)
    pairwise[first, second] = proba
    pairwise[second, first] = proba[:, [1, 0, 2]]
    # ties in strength (identical answers) keep the given order: a stable sort on rounded strengths
    order = sorted(range(n), key=lambda i: (-round(float(fit.theta[i]), 9), i))
    return RankResult(strengths=[float(t) for t in fit.theta],
                      ratings=[float(1000 + ELO_SCALE * t) for t in fit.theta],
                      expected_win=[float(v) for v in win], expected_score=[float(v) for v in score],
                      order=order, pairwise=pairwise.tolist(), tie_nu=float(np.exp(fit.log_nu)))
