"""Leaderboards: many models' answers to the same prompts, judged pair by pair, rated with Bradley–Terry.

Input (JSONL, one answer per line)::

    {"prompt_id": "q81", "prompt": "..." or [turns], "model": "gpt-4", "response": "..." or [turns]}

Within each prompt every pair of models is judged (or every model against ``baseline``), swap-averaged;
the judge's three probabilities are soft outcomes of a Davidson–Bradley–Terry fit (``ranking.bt``), whose
strengths are shown on the Elo scale (mean 1000, or the baseline at 1000). Intervals: percentile
bootstrap over prompts. Style control (as Chatbot Arena does it): the normalised differences in length
and markdown counts (headers, list items, bold) of the two answers enter the BT regression as
covariates, so a model is not rated up only for writing longer or more formatted answers. The same
pairs are also judged without swap TTA in both orders, for the flip rate and position bias.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.validation import DataError, RowError, parse_turns
from arenapref.features.handmade import TEXT_FEATURES, text_features
from arenapref.metrics import swap_consistency
from arenapref.ranking.bt import bootstrap_bt, expected_scores, fit_bt

# (feature of features.handmade, what the page calls it)
STYLE_FEATURES: tuple[tuple[str, str], ...] = (("chars", "length"), ("headers", "headers"),
                                               ("list_items", "list items"), ("bold", "bold spans"))
_STYLE_IDX = [TEXT_FEATURES.index(name) for name, _ in STYLE_FEATURES]
REQUIRED = ("prompt_id", "prompt", "model", "response")


# --- input -------------------------------------------------------------------------------------------

def read_answers(path: str | Path) -> pd.DataFrame:
    """The answers file as a table (prompt_id, prompt, model, response, line); bad lines raise
    :class:`DataError` naming file, line and field."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such answers file")
    records: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    prompts: dict[str, tuple[list[str], int]] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(path, f"not UTF-8 (byte {err.start})", line=number) from None
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as err:
                raise DataError(path, f"not valid JSON ({err.msg} at char {err.pos})", line=number) from None
            if not isinstance(obj, dict):
                raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
            record = _clean_record(obj, path, number)
            key = (record["prompt_id"], record["model"])
            if key in seen:
                raise DataError(path, f"model {record['model']!r} already answered prompt {record['prompt_id']!r} "
                                      f"on line {seen[key]}", line=number, field="model")
            seen[key] = number
            known = prompts.get(record["prompt_id"])
            if known is None:
                prompts[record["prompt_id"]] = (record["prompt"], number)
            elif known[0] != record["prompt"]:
                raise DataError(path, f"prompt_id {record['prompt_id']!r} has a different prompt on line {known[1]}",
                                line=number, field="prompt")
            records.append(record)
    if not records:
        raise DataError(path, "no answers in the file")
    return pd.DataFrame(records, columns=[*REQUIRED, "line"])


def _clean_record(obj: dict[str, Any], path: Path, number: int) -> dict[str, Any]:
    for key in REQUIRED:
        if key not in obj:
            raise DataError(path, "missing key", line=number, field=key)
    prompt_id = obj["prompt_id"]
    if isinstance(prompt_id, bool) or not isinstance(prompt_id, (str, int)) or str(prompt_id).strip() == "":
        raise DataError(path, "expected a non-empty string or an integer", line=number, field="prompt_id")
    model = obj["model"]
    if not isinstance(model, str) or not model.strip():
        raise DataError(path, "expected a non-empty model name", line=number, field="model")
    out: dict[str, Any] = {"prompt_id": str(prompt_id), "model": model.strip(), "line": number}
    for key in ("prompt", "response"):
        try:
            out[key] = parse_turns(obj[key], key, json_encoded=False)
        except RowError as err:
            raise DataError(path, str(err), line=number, field=key) from None
    if len(out["prompt"]) != len(out["response"]):
        raise DataError(path, f"{len(out['response'])} turns but the prompt has {len(out['prompt'])}",
                        line=number, field="response")
    return out


# --- pairs and scores --------------------------------------------------------------------------------

def build_pairs(answers: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """One row per judged pair: every two models of a prompt, or each model against ``baseline``.

    Models are taken in name order within a prompt, so the pairs do not depend on the file's line order.
    """
    models = sorted(answers["model"].unique())
    if len(models) < 2:
        raise ValueError(f"a leaderboard needs at least 2 models; the answers have {models}")
    if baseline is not None and baseline not in models:
        raise ValueError(f"--baseline {baseline!r} is not one of the models: {', '.join(models)}")
    rows = []
    for prompt_id, group in answers.groupby("prompt_id", sort=True):
        by_model = {m: r for m, r in zip(group["model"], group.itertuples(index=False))}
        names = sorted(by_model)
        if baseline is None:
            combos = list(combinations(names, 2))
        else:
            combos = [(m, baseline) for m in names if m != baseline] if baseline in by_model else []
        for a, b in combos:
            ra, rb = by_model[a], by_model[b]
            rows.append({"prompt_id": prompt_id, "model_a": a, "model_b": b, "prompt": ra.prompt,
                         "response_a": ra.response, "response_b": rb.response})
    if not rows:
        what = f"a prompt answered by {baseline!r} and another model" if baseline else "a prompt with 2 answers"
        raise ValueError(f"no pairs to judge: the answers have no {what}")
    return pd.DataFrame(rows)


def judge_frame(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs as the judge's canonical table (validated once more by ``clean_pair``)."""
    from arenapref.data.inputs import clean_pair, pairs_frame

    rows = [clean_pair(p, a, b, row_id=str(k)) for k, (p, a, b) in
            enumerate(zip(pairs["prompt"], pairs["response_a"], pairs["response_b"]))]
    frame = pairs_frame(rows)
    frame["model_a"], frame["model_b"] = pairs["model_a"].to_numpy(), pairs["model_b"].to_numpy()
    return frame


@dataclass
class ScoredPairs:
    """The judged pairs: swap-averaged probabilities, and both orders without TTA."""

    pairs: pd.DataFrame
    proba: np.ndarray          # (n, 3) swap-averaged [A wins, B wins, tie]
    direct: np.ndarray | None  # (n, 3) without TTA, as shown
    swapped: np.ndarray | None  # (n, 3) without TTA, A and B exchanged (swapped orientation)


def score_pairs(judge: Any, pairs: pd.DataFrame, *, consistency: bool = True,
                log: Callable[[str], Any] = print) -> ScoredPairs:
    """Judge every pair swap-averaged; with ``consistency`` also both orders without TTA."""
    from arenapref.data.schema import swap_pairs

    frame = judge_frame(pairs)
    log(f"judging {len(frame):,} pairs (swap-averaged{', and both orders without TTA' if consistency else ''})")
    proba = np.asarray(judge.predict_pairs(frame, swap_tta=True), dtype=float)
    direct = swapped = None
    if consistency:
        direct = np.asarray(judge.predict_pairs(frame, swap_tta=False), dtype=float)
        swapped = np.asarray(judge.predict_pairs(swap_pairs(frame), swap_tta=False), dtype=float)
    return ScoredPairs(pairs, proba, direct, swapped)


def style_covariates(pairs: pd.DataFrame) -> np.ndarray:
    """(n, 4) style differences of each pair: (A − B) / (A + B) of length and markdown counts, divided by
    their root mean square (no centring: swapping A and B must negate the row exactly)."""
    fa = np.array([text_features(list(r))[_STYLE_IDX] for r in pairs["response_a"]], dtype=float).reshape(-1, 4)
    fb = np.array([text_features(list(r))[_STYLE_IDX] for r in pairs["response_b"]], dtype=float).reshape(-1, 4)
    total = fa + fb
    rel = np.divide(fa - fb, total, out=np.zeros_like(total), where=total > 0)
    rms = np.sqrt((rel ** 2).mean(axis=0)) if len(rel) else np.ones(4)
    return np.divide(rel, rms, out=np.zeros_like(rel), where=rms > 0)


# --- the table -------------------------------------------------------------------------------------

@dataclass
class Leaderboard:
    rows: list[dict[str, Any]]                 # one per model, best first
    summary: dict[str, Any]
    pairs: pd.DataFrame = field(repr=False)    # per-pair scores for analysis

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: undefined numbers (no pairs for a model) become null rather than NaN."""
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()}
                for r in self.rows]
        return {**self.summary, "models": rows}


def compute_leaderboard(scored: ScoredPairs, *, baseline: str | None = None, style_control: bool = False,
                        n_boot: int = 100, seed: int = 0, level: float = 0.95) -> Leaderboard:
    """Ratings, intervals, win rates and consistency figures from judged pairs."""
    pairs = scored.pairs
    models = sorted(set(pairs["model_a"]) | set(pairs["model_b"]))
    index = {m: i for i, m in enumerate(models)}
    first = pairs["model_a"].map(index).to_numpy()
    second = pairs["model_b"].map(index).to_numpy()
    n = len(models)
    anchor = index[baseline] if baseline is not None else None
    raw = fit_bt(first, second, scored.proba, n)
    covariates = style_covariates(pairs) if style_control else None
    main = fit_bt(first, second, scored.proba, n, covariates=covariates) if style_control else raw
    boot = bootstrap_bt(first, second, scored.proba, n, pairs["prompt_id"].to_numpy(), n_boot=n_boot, seed=seed,
                        covariates=covariates, anchor=anchor, level=level, init=main)
    ratings, raw_ratings = main.elo(anchor), raw.elo(anchor)
    _, field_score = expected_scores(main.theta, main.log_nu)
    # observed (judged) score of each model: P(win) + P(tie)/2 over its pairs, against the baseline if any
    won = np.zeros(n)
    count = np.zeros(n)
    score_a = scored.proba[:, 0] + 0.5 * scored.proba[:, 2]
    np.add.at(won, first, score_a)
    np.add.at(won, second, 1 - score_a)
    np.add.at(count, first, 1)
    np.add.at(count, second, 1)
    flips = None
    if scored.direct is not None and scored.swapped is not None:
        from arenapref.data.schema import swap_proba

        flips = scored.direct.argmax(axis=1) != swap_proba(scored.swapped).argmax(axis=1)
    prompts_of = pd.concat([pairs[["prompt_id", "model_a"]].set_axis(["p", "m"], axis=1),
                            pairs[["prompt_id", "model_b"]].set_axis(["p", "m"], axis=1)]).groupby("m")["p"].nunique()
    chars = _mean_chars(pairs)
    rows = []
    for m, i in index.items():
        involved = (first == i) | (second == i)
        row = {"model": m, "rating": float(ratings[i]), "ci_low": float(boot.low[i]), "ci_high": float(boot.high[i]),
               "win_rate": float(won[i] / count[i]) if count[i] else math.nan,
               "expected_score_vs_field": float(field_score[i]),
               "n_prompts": int(prompts_of.get(m, 0)), "n_pairs": int(count[i]), "mean_chars": chars.get(m, math.nan),
               "flip_rate": float(flips[involved].mean()) if flips is not None and involved.any() else math.nan}
        if style_control:
            row["rating_raw"] = float(raw_ratings[i])
        rows.append(row)
    rows.sort(key=lambda r: (-round(r["rating"], 9), r["model"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    summary: dict[str, Any] = {
        "n_models": n, "n_prompts": int(pairs["prompt_id"].nunique()), "n_pairs": int(len(pairs)),
        "baseline": baseline, "anchor": f"{baseline} = 1000" if baseline else "mean rating = 1000",
        "win_rate_is": f"P(win) + P(tie)/2 against {baseline}" if baseline else
                       "P(win) + P(tie)/2 against the other models of the same prompts",
        "style_control": style_control, "tie_nu": float(np.exp(main.log_nu)), "converged": main.converged,
        "bootstrap": {"n": n_boot, "seed": seed, "level": level, "resampled": "prompts"},
    }
    if style_control:
        summary["style_coefficients"] = {label: float(b) for (_, label), b in zip(STYLE_FEATURES, main.beta)}
    if scored.direct is not None and scored.swapped is not None:
        figures = swap_consistency(scored.direct, scored.swapped)
        figures.pop("gaps")
        summary["consistency"] = figures
    out_pairs = pairs[["prompt_id", "model_a", "model_b"]].copy()
    for j, col in enumerate(("p_a", "p_b", "p_tie")):
        out_pairs[col] = scored.proba[:, j]
    if scored.direct is not None and scored.swapped is not None:
        for j, col in enumerate(("p_a_direct", "p_b_direct", "p_tie_direct")):
            out_pairs[col] = scored.direct[:, j]
        for j, col in enumerate(("p_a_swapped", "p_b_swapped", "p_tie_swapped")):
            # back in the original orientation: the probability that the *same* answer wins
            out_pairs[col] = scored.swapped[:, [1, 0, 2][j]]
        out_pairs["flipped"] = flips
    return Leaderboard(rows, summary, out_pairs)


def _mean_chars(pairs: pd.DataFrame) -> dict[str, float]:
    seen: dict[tuple[str, str], int] = {}
    for pid, ma, mb, ra, rb in zip(pairs["prompt_id"], pairs["model_a"], pairs["model_b"],
                                   pairs["response_a"], pairs["response_b"]):
        seen[(pid, ma)] = sum(len(t) for t in ra)
        seen[(pid, mb)] = sum(len(t) for t in rb)
    frame = pd.DataFrame([(m, c) for (_, m), c in seen.items()], columns=["m", "c"])
    return {str(k): float(v) for k, v in frame.groupby("m")["c"].mean().items()}


# --- output ------------------------------------------------------------------------------------------

CSV_COLUMNS = ("rank", "model", "rating", "ci_low", "ci_high", "rating_raw", "win_rate", "expected_score_vs_field",
               "n_prompts", "n_pairs", "mean_chars", "flip_rate")


def table_frame(board: Leaderboard) -> pd.DataFrame:
    frame = pd.DataFrame(board.rows)
    return frame[[c for c in CSV_COLUMNS if c in frame.columns]]


def _ticks(low: float, high: float) -> list[float]:
    span = max(high - low, 1e-9)
    step = 10 ** math.floor(math.log10(span / 5))
    for mult in (1, 2, 5, 10):
        if span / (step * mult) <= 7:
            step *= mult
            break
    return [t * step for t in range(math.ceil(low / step), math.floor(high / step) + 1)]


def ratings_svg(rows: list[dict[str, Any]], *, width: int = 760) -> str:
    """Each model's rating (dot) and interval (line) on a shared Elo axis, best on top; no script."""
    left, right, top, row_h = 190, 30, 30, 30
    height = top + row_h * len(rows) + 40
    values = [v for r in rows for v in (r["rating"], r["ci_low"], r["ci_high"], r.get("rating_raw"))
              if v is not None and math.isfinite(v)]
    low, high = min(values), max(values)
    pad = max(10.0, 0.08 * (high - low))
    low, high = low - pad, high + pad

    def x(v: float) -> float:
        return left + (v - low) / (high - low) * (width - left - right)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" id="ratings-plot" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="ratings with intervals" '
             f'font-family="system-ui,sans-serif" font-size="13">']
    axis_y = top + row_h * len(rows) + 5
    for t in _ticks(low, high):
        parts.append(f'<line x1="{x(t):.1f}" y1="{top - 10}" x2="{x(t):.1f}" y2="{axis_y}" stroke="#e3e3e3"/>'
                     f'<text x="{x(t):.1f}" y="{axis_y + 16}" text-anchor="middle" fill="#555">{t:g}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.0f}" y="{axis_y + 33}" text-anchor="middle" '
                 f'fill="#333">rating (Elo scale)</text>')
    for k, r in enumerate(rows):
        y = top + row_h * k + row_h / 2
        name = html.escape(r["model"])
        parts.append(f'<g class="model" data-model="{name}">')
        parts.append(f'<text x="{left - 10}" y="{y + 4:.1f}" text-anchor="end" fill="#222">{name}</text>')
        if math.isfinite(r["ci_low"]) and math.isfinite(r["ci_high"]):
            parts.append(f'<line class="ci" x1="{x(r["ci_low"]):.1f}" y1="{y:.1f}" x2="{x(r["ci_high"]):.1f}" '
                         f'y2="{y:.1f}" stroke="#1f77b4" stroke-width="3"/>')
        if r.get("rating_raw") is not None:
            parts.append(f'<circle class="raw" cx="{x(r["rating_raw"]):.1f}" cy="{y:.1f}" r="5" fill="white" '
                         f'stroke="#999" stroke-width="2"><title>without style control: '
                         f'{r["rating_raw"]:.0f}</title></circle>')
        parts.append(f'<circle class="rating" cx="{x(r["rating"]):.1f}" cy="{y:.1f}" r="6" fill="#1f77b4">'
                     f'<title>{name}: {r["rating"]:.0f} [{r["ci_low"]:.0f}, {r["ci_high"]:.0f}]</title></circle>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:nth-child(2),th:nth-child(2){text-align:left}.muted{color:#666;font-size:.9em}"""


def _cell(value: Any, key: str) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if key in ("win_rate", "flip_rate", "expected_score_vs_field"):
            return f"{value:.1%}"
        return f"{value:.0f}" if key in ("rating", "ci_low", "ci_high", "rating_raw", "mean_chars") else f"{value:.4f}"
    return html.escape(str(value))


def render_html(board: Leaderboard, *, title: str, source: str) -> str:
    s = board.summary
    headers = {"rank": "#", "model": "model", "rating": "rating", "ci_low": "95% low", "ci_high": "95% high",
               "rating_raw": "rating without style control", "win_rate": "win rate", "expected_score_vs_field":
               "expected score vs field", "n_prompts": "prompts", "n_pairs": "pairs", "mean_chars": "mean chars",
               "flip_rate": "flip rate"}
    columns = [c for c in CSV_COLUMNS if c in board.rows[0]]
    head = "".join(f"<th>{html.escape(headers[c])}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c), c)}</td>" for c in columns) + "</tr>" for r in board.rows)
    boot = s["bootstrap"]
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p class='muted'>{s['n_models']} models, {s['n_prompts']:,} prompts, {s['n_pairs']:,} judged pairs "
             f"from {html.escape(source)}. Davidson–Bradley–Terry ratings on the Elo scale ({html.escape(s['anchor'])}); "
             f"{boot['level']:.0%} intervals from {boot['n']} bootstrap resamples of the prompts"
             f"{' (style-controlled)' if s['style_control'] else ''}.</p>",
             "<h2>Ratings</h2>", ratings_svg(board.rows),
             f"<table id='leaderboard'><tr>{head}</tr>{body}</table>",
             f"<p class='muted'>win rate: {html.escape(s['win_rate_is'])}, from the judge's swap-averaged "
             f"probabilities. Flip rate: share of a model's pairs whose verdict changes when A and B are swapped "
             f"(without swap averaging).</p>"]
    if s["style_control"]:
        coef = ", ".join(f"{html.escape(k)} {v:+.3f}" for k, v in s["style_coefficients"].items())
        parts.append("<h2>Style control</h2><p>Length and markdown-count differences of the two answers "
                     "((A − B) / (A + B), scaled to unit root mean square) are covariates of the BT regression; "
                     f"their fitted effects on the log-odds of A: {coef}. Hollow dots: ratings without style "
                     "control.</p>")
    consistency = s.get("consistency")
    if consistency:
        parts.append("<h2>Consistency (without swap averaging)</h2>"
                     f"<p id='consistency'>Over {consistency['n']:,} pairs judged in both orders: the verdict "
                     f"flips on <b>{consistency['flip_rate']:.1%}</b>; mean |P(A | A first) − P(A | A second)| = "
                     f"{consistency['mean_abs_gap']:.4f}; mean first-position advantage "
                     f"{consistency['mean_first_position_advantage']:+.4f}; "
                     f"{consistency['first_shown_preferred']:.1%} of decisive verdicts pick the answer shown first "
                     f"(50% = no position bias). The ratings above use swap-averaged probabilities, which are "
                     f"free of position bias by construction.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_leaderboard(board: Leaderboard, out_dir: str | Path, *, title: str, source: str,
                      force: bool = False) -> Path:
    """``leaderboard.csv``, ``leaderboard.json``, ``leaderboard.html`` and ``pairs.csv`` in ``out_dir``,
    written atomically; an existing folder is kept unless ``force``."""
    from arenapref.runs import atomic_dir, refuse_existing, write_json

    out_dir = Path(out_dir)
    refuse_existing(out_dir, force=force, what="leaderboard folder")
    page = render_html(board, title=title, source=source)
    with atomic_dir(out_dir, force=force) as tmp:
        table_frame(board).to_csv(tmp / "leaderboard.csv", index=False, float_format="%.6g")
        board.pairs.to_csv(tmp / "pairs.csv", index=False, float_format="%.6g")
        write_json(tmp / "leaderboard.json", board.to_dict())
        (tmp / "leaderboard.html").write_text(page, encoding="utf-8")
    return out_dir / "leaderboard.html"
