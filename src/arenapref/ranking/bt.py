"""Bradley–Terry strengths with ties (Davidson 1970), optional style covariates, bootstrap intervals.

One comparison of items ``i`` and ``j`` has outcome weights ``(w_i, w_j, w_tie)``: a human vote is one-hot,
a judge's prediction is its three probabilities (soft counts: the fit then maximises the expected
log-likelihood, which uses the judge's confidence instead of only its argmax). With
``d = theta_i - theta_j + x . beta`` (``x``: style covariates of the pair, ``beta``: their effect)::

    P(i wins) = e^{d/2} / Z,   P(j wins) = e^{-d/2} / Z,   P(tie) = nu / Z,   Z = e^{d/2} + e^{-d/2} + nu

so ``P(i wins | not a tie) = sigmoid(d)``: ``theta`` is on the logit scale and ``400 / ln 10 * theta`` is
the Elo scale (a 400-point gap is 10:1 odds). The fit is a convex maximum likelihood problem solved
with L-BFGS from zero (deterministic); a small ridge keeps strengths finite when one item wins every
comparison (separation) and fixes the free shift of ``theta`` (the ridge optimum has mean zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

ELO_SCALE = 400.0 / np.log(10.0)
DEFAULT_RIDGE = 0.01  # a Gaussian prior with sd 10 logits (~1700 Elo): negligible unless the data separate


@dataclass(frozen=True)
class BTFit:
    """Fitted strengths (logit scale, mean zero), the tie parameter and the style effects."""

    theta: np.ndarray
    log_nu: float
    beta: np.ndarray
    converged: bool
    n_comparisons: int

    def elo(self, anchor: int | None = None, base: float = 1000.0) -> np.ndarray:
        """Ratings on the Elo scale: item ``anchor`` at ``base``, or the mean at ``base`` when None."""
        shift = self.theta[anchor] if anchor is not None else self.theta.mean()
        return base + ELO_SCALE * (self.theta - shift)


def davidson_proba(d: np.ndarray, log_nu: float) -> np.ndarray:
    """(n, 3) probabilities [first wins, second wins, tie] for strength differences ``d``."""
    d = np.asarray(d, dtype=float)
    return _softmax3(d.ravel(), log_nu)[0].reshape(*d.shape, 3)


def _softmax3(d: np.ndarray, log_nu: float) -> tuple[np.ndarray, np.ndarray]:
    # by hand: scipy's logsumexp costs 3x as much and this runs once per optimiser step
    logits = np.stack([d / 2, -d / 2, np.full_like(d, log_nu)], axis=1)
    top = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - top)
    z = e.sum(axis=1, keepdims=True)
    return e / z, (top + np.log(z))[:, 0]


def _check(first: np.ndarray, second: np.ndarray, outcomes: np.ndarray, n_items: int,
           covariates: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    first = np.asarray(first, dtype=np.int64)
    second = np.asarray(second, dtype=np.int64)
    outcomes = np.asarray(outcomes, dtype=float).reshape(-1, 3)
    if not (len(first) == len(second) == len(outcomes)):
        raise ValueError("first, second and outcomes need one entry per comparison")
    if len(first) and (min(first.min(), second.min()) < 0 or max(first.max(), second.max()) >= n_items):
        raise ValueError(f"item index outside 0..{n_items - 1}")
    if np.any(first == second):
        raise ValueError("an item cannot be compared with itself")
    if np.any(~np.isfinite(outcomes)) or np.any(outcomes < 0):
        raise ValueError("outcome weights must be finite and non-negative")
    x = np.zeros((len(first), 0)) if covariates is None else np.asarray(covariates, dtype=float).reshape(len(first), -1)
    if np.any(~np.isfinite(x)):
        raise ValueError("covariates must be finite")
    return first, second, outcomes, x


def fit_bt(first: np.ndarray, second: np.ndarray, outcomes: np.ndarray, n_items: int, *,
           covariates: np.ndarray | None = None, ridge: float = DEFAULT_RIDGE,
           init: BTFit | None = None) -> BTFit:
    """Maximum likelihood Davidson–Bradley–Terry fit; ``outcomes[k] = (w_first, w_second, w_tie)``.

    ``covariates`` (n, k) are properties of the pair that enter the log-odds of the first item
    (A minus B style differences): their coefficients absorb what they explain, and ``theta`` is what is
    left (Chatbot Arena's style control). ``init`` warm-starts (bootstrap refits).
    """
    first, second, w, x = _check(first, second, outcomes, n_items, covariates)
    n_comparisons = len(first)
    k = x.shape[1]
    if k == 0 and len(first):
        # without covariates the likelihood depends only on the summed outcomes of each ordered pair of
        # items: fitting on at most n^2 rows instead of every comparison is exact and much faster
        codes, inverse = np.unique(first * n_items + second, return_inverse=True)
        summed = np.zeros((len(codes), 3))
        np.add.at(summed, inverse, w)
        first, second, w, x = codes // n_items, codes % n_items, summed, np.zeros((len(codes), 0))
    w_a, w_b, w_t = w[:, 0], w[:, 1], w[:, 2]
    total = w.sum(axis=1)
    scale = max(float(total.sum()), 1.0)

    def objective(params: np.ndarray) -> tuple[float, np.ndarray]:
        theta, log_nu, beta = params[:n_items], params[n_items], params[n_items + 1:]
        d = theta[first] - theta[second] + x @ beta
        p, log_z = _softmax3(d, log_nu)
        nll = float(np.sum(total * log_z - w_a * d / 2 + w_b * d / 2 - w_t * log_nu))
        g_d = total * (p[:, 0] - p[:, 1]) / 2 + (w_b - w_a) / 2
        grad = np.zeros_like(params)
        grad[:n_items] = np.bincount(first, g_d, n_items) - np.bincount(second, g_d, n_items)
        grad[n_items] = float(np.sum(total * p[:, 2] - w_t))
        grad[n_items + 1:] = x.T @ g_d
        # ridge on strengths and style effects, not on the tie parameter (its scale is not shared)
        nll += 0.5 * ridge * float(theta @ theta + beta @ beta)
        grad[:n_items] += ridge * theta
        grad[n_items + 1:] += ridge * beta
        # per unit of outcome weight: the same optimum, and tolerances that do not depend on the data size
        return nll / scale, grad / scale

    if init is not None and len(init.theta) == n_items and len(init.beta) == k:
        start = np.concatenate([init.theta, [init.log_nu], init.beta])
    else:
        start = np.zeros(n_items + 1 + k)
        tie_share = w_t.sum() / max(total.sum(), 1e-12)
        # at equal strengths P(tie) = nu / (2 + nu): start at the observed tie share
        start[n_items] = np.log(max(2 * tie_share / max(1 - tie_share, 1e-6), 1e-6))
    result = minimize(objective, start, jac=True, method="L-BFGS-B",
                      options={"maxiter": 2000, "gtol": 1e-10, "ftol": 1e-15})
    params = result.x
    theta = params[:n_items]
    return BTFit(theta=theta - theta.mean(), log_nu=float(params[n_items]), beta=params[n_items + 1:].copy(),
                 converged=bool(result.success), n_comparisons=n_comparisons)


def expected_scores(theta: np.ndarray, log_nu: float) -> tuple[np.ndarray, np.ndarray]:
    """Per item, mean over the other items of P(win) and of P(win) + P(tie)/2 under the fitted model."""
    theta = np.asarray(theta, dtype=float)
    n = len(theta)
    if n < 2:
        return np.ones(n), np.ones(n)
    p = davidson_proba(theta[:, None] - theta[None, :], log_nu)
    off = ~np.eye(n, dtype=bool)
    win = np.where(off, p[..., 0], 0).sum(axis=1) / (n - 1)
    score = np.where(off, p[..., 0] + 0.5 * p[..., 2], 0).sum(axis=1) / (n - 1)
    return win, score


@dataclass(frozen=True)
class Bootstrap:
    """Bootstrap replicates of the Elo ratings (rows: replicates) and their percentile interval."""

    ratings: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_groups: int


def bootstrap_bt(first: np.ndarray, second: np.ndarray, outcomes: np.ndarray, n_items: int, groups: np.ndarray,
                 *, n_boot: int, seed: int = 0, covariates: np.ndarray | None = None,
                 ridge: float = DEFAULT_RIDGE, anchor: int | None = None, base: float = 1000.0,
                 level: float = 0.95, init: BTFit | None = None) -> Bootstrap:
    """Percentile intervals of the Elo ratings, resampling whole groups (prompts) with replacement.

    Comparisons of one prompt share its difficulty and its answers, so they are not independent;
    resampling prompts keeps that dependence inside each replicate (as arena-hard-auto does).
    """
    first, second, outcomes, x = _check(first, second, outcomes, n_items, covariates)
    codes, group_index = np.unique(np.asarray(groups), return_inverse=True)
    if init is None:
        init = fit_bt(first, second, outcomes, n_items, covariates=covariates, ridge=ridge)
    rng = np.random.default_rng(seed)
    reps = np.zeros((n_boot, n_items))
    for b in range(n_boot):
        # a prompt drawn k times counts k times: weighting its comparisons by k is the same likelihood as
        # stacking k copies, without building the resampled table
        times = np.bincount(rng.integers(0, len(codes), size=len(codes)), minlength=len(codes))
        fit = fit_bt(first, second, outcomes * times[group_index][:, None], n_items,
                     covariates=x if x.shape[1] else None, ridge=ridge, init=init)
        reps[b] = fit.elo(anchor, base)
    alpha = (1 - level) / 2
    if n_boot == 0:
        empty = np.full(n_items, np.nan)
        return Bootstrap(reps, empty, empty.copy(), len(codes))
    return Bootstrap(reps, np.quantile(reps, alpha, axis=0), np.quantile(reps, 1 - alpha, axis=0), len(codes))
