"""``arenapref report RUN_DIR``: where a run is right, wrong and biased, as one self-contained HTML page.

Everything is computed from the run directory: ``oof.parquet`` (out-of-fold predictions: every number is
a held-out number), ``metrics.json``, ``config.yaml`` (``data_paths``: the training texts, for the
breakdowns by length, turns, language and model pair, and for the position-bias check, which runs the
saved ``model/``), and, when present, ``learning_curve.json``::

    {"x": "step", "y": "log loss",
     "series": {"train": [[step, value], ...], "valid": [[step, value], ...]}}

Sections that need something the run lacks (texts, model names, a learning curve) say so instead of
failing. Output (``RUN_DIR/report/`` by default, written atomically): ``report.html`` with the figures
embedded as base64 PNG, the same figures as ``*.png``, and ``report.json`` with every number shown.
"""

from __future__ import annotations

import base64
import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.schema import LABEL_COLUMNS, PRED_COLUMNS, swap_pairs
from arenapref.metrics import UNIFORM_LOG_LOSS, accuracy, binned_gap, log_loss, score, swap_consistency
from arenapref.runs import Run, atomic_dir, check_run_dir, read_json, refuse_existing, write_json
from arenapref.text.scripts import REPORT_SCRIPTS, script_counts

LEARNING_CURVE_FILE = "learning_curve.json"
SCRIPT_SAMPLE_CHARS = 4000


def dominant_script(text: str) -> str:
    """The writing system most letters of ``text`` belong to; kana anywhere means Japanese (it mixes Han).

    Only the first :data:`SCRIPT_SAMPLE_CHARS` characters count: enough to tell, and fast on 10k-token answers.
    """
    text = text[:SCRIPT_SAMPLE_CHARS]
    counts = script_counts(text, REPORT_SCRIPTS)
    if counts["Japanese (kana)"] and counts["Japanese (kana)"] >= 0.05 * counts["Chinese (Han)"]:
        counts["Japanese (kana)"] += counts.pop("Chinese (Han)")
    best = max(counts, key=lambda name: counts[name])
    return best if counts[best] else "none (digits/symbols)"


def length_buckets(chars: np.ndarray, n_buckets: int = 5) -> np.ndarray:
    """Quantile buckets of total response length, labelled by their character range."""
    edges = np.unique(np.quantile(chars, np.linspace(0, 1, n_buckets + 1)))
    if len(edges) < 2:
        return np.array([f"{int(edges[0])} chars"] * len(chars), dtype=object)
    idx = np.clip(np.searchsorted(edges, chars, side="right") - 1, 0, len(edges) - 2)

    def fmt(v: float) -> str:
        return f"{v / 1000:.1f}k" if v >= 1000 else f"{int(v)}"

    labels = [f"{fmt(edges[i])}–{fmt(edges[i + 1])}" for i in range(len(edges) - 1)]
    return np.array([f"{i}: {labels[i]}" for i in idx], dtype=object)


def turn_buckets(turns: np.ndarray) -> np.ndarray:
    return np.array([f"{t} turn{'s' if t > 1 else ''}" if t < 4 else "4+ turns" for t in turns], dtype=object)


def prior_oof(targets: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per row, the class prior of the other folds: the baseline every breakdown is compared with."""
    out = np.zeros_like(targets)
    for k in np.unique(folds):
        valid = folds == k
        out[valid] = targets[~valid].mean(axis=0) if (~valid).any() else targets.mean(axis=0)
    return out


def breakdown(buckets: np.ndarray, targets: np.ndarray, proba: np.ndarray, prior: np.ndarray,
              min_rows: int = 1, order: list[str] | None = None) -> list[dict[str, Any]]:
    """Log loss, accuracy and the prior/uniform baselines per bucket (buckets with < ``min_rows`` pooled)."""
    buckets = np.asarray(buckets, dtype=object).copy()
    counts = pd.Series(buckets).value_counts()
    small = counts[counts < min_rows].index
    if len(small) > 1:
        buckets[np.isin(buckets, small)] = "other (small)"
    keys = order or sorted(set(buckets), key=lambda b: (-int((buckets == b).sum()), str(b)))
    rows = []
    for key in keys:
        m = buckets == key
        if not m.any():
            continue
        rows.append({"bucket": str(key), "n": int(m.sum()), "log_loss": log_loss(targets[m], proba[m]),
                     "accuracy": accuracy(targets[m], proba[m]), "prior_log_loss": log_loss(targets[m], prior[m]),
                     "uniform_log_loss": UNIFORM_LOG_LOSS})
    return rows


def model_pair_tables(pairs: pd.DataFrame, targets: np.ndarray, proba: np.ndarray, prior: np.ndarray,
                      top: int = 20) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per model pair (unordered) and per model: counts, log loss vs prior, observed vs predicted win rate."""
    a = pairs["model_a"].astype(object).to_numpy()
    b = pairs["model_b"].astype(object).to_numpy()
    named = np.array([isinstance(x, str) and isinstance(y, str) and bool(x) and bool(y) for x, y in zip(a, b)])
    if not named.any():
        return [], []
    keys = np.array([" vs ".join(sorted((x, y))) if ok else "" for x, y, ok in zip(a, b, named)], dtype=object)
    pair_rows = []
    for key, n in pd.Series(keys[named]).value_counts().head(top).items():
        m = keys == key
        pair_rows.append({"pair": key, "n": int(n), "log_loss": log_loss(targets[m], proba[m]),
                          "prior_log_loss": log_loss(targets[m], prior[m]),
                          "observed_tie": float(targets[m, 2].mean()), "predicted_tie": float(proba[m, 2].mean())})
    model_rows = []
    names = pd.Series(np.concatenate([a[named], b[named]])).value_counts().head(top)
    for name, n in names.items():
        as_a, as_b = named & (a == name), named & (b == name)
        won = np.concatenate([targets[as_a, 0], targets[as_b, 1]])
        predicted = np.concatenate([proba[as_a, 0], proba[as_b, 1]])
        m = as_a | as_b
        model_rows.append({"model": name, "n": int(n), "observed_win": float(won.mean()),
                           "predicted_win": float(predicted.mean()), "log_loss": log_loss(targets[m], proba[m]),
                           "prior_log_loss": log_loss(targets[m], prior[m])})
    return pair_rows, model_rows


def position_bias(model: Any, pairs: pd.DataFrame) -> dict[str, Any]:
    """The model without swap TTA on x and on swapped x: flip rate, position bias, |p(A|x) − p(B|swap x)|
    (see :func:`arenapref.metrics.swap_consistency`)."""
    direct = model.predict_proba(pairs, swap_tta=False)
    swapped = model.predict_proba(swap_pairs(pairs), swap_tta=False)
    return swap_consistency(direct, swapped)


@dataclass
class ReportInputs:
    run_dir: Path
    oof: pd.DataFrame
    metrics: dict[str, Any]
    config: dict[str, Any]
    pairs: pd.DataFrame | None = None          # training texts aligned with oof rows (None: not found)
    notes: list[str] = field(default_factory=list)


def read_report_inputs(run_dir: str | Path, data_paths: list[str | Path] | None = None,
                       log: Any = print) -> ReportInputs:
    run = Run.open(run_dir)
    run_dir = run.path
    if "oof.parquet" not in run.manifest["files"]:
        raise FileNotFoundError(f"{run_dir}: no oof.parquet; the report is built from out-of-fold predictions")
    oof = run.oof()
    oof["id"] = oof["id"].astype(str)
    metrics, config = run.metrics, run.config
    inputs = ReportInputs(run_dir, oof, metrics, config)
    paths = [Path(p) for p in (data_paths or config.get("data_paths") or [])]
    missing = [str(p) for p in paths if not p.exists()]
    if not paths or missing:
        inputs.notes.append(f"training texts not found ({', '.join(missing) or 'no data_paths in config.yaml'}); "
                            f"pass --data to get the breakdowns, the model-pair tables and the position-bias check")
        return inputs
    from arenapref.data.training import read_training_data
    from arenapref.data.validation import DataError

    try:
        pairs = read_training_data(paths, config, log=log)
    except (DataError, ValueError, OSError) as err:
        inputs.notes.append(f"could not read the training texts: {err}")
        return inputs
    pairs = pairs.assign(id=pairs["id"].astype(str)).drop_duplicates("id").set_index("id", drop=False)
    found = oof["id"].isin(pairs.index)
    if not found.any():
        inputs.notes.append(f"none of the run's ids are in {', '.join(map(str, paths))}; text sections skipped")
        return inputs
    if not found.all():
        inputs.notes.append(f"{int((~found).sum())} of {len(oof)} out-of-fold ids are not in the data files; "
                            f"text sections use the {int(found.sum())} found")
    inputs.oof = oof.loc[found].reset_index(drop=True)
    inputs.pairs = pairs.loc[inputs.oof["id"]].reset_index(drop=True)
    return inputs


def compute_report(inputs: ReportInputs, *, position_rows: int = 2000, seed: int = 0,
                   log: Any = print) -> dict[str, Any]:
    """Every number and figure of the report (figures as ``matplotlib`` objects under ``figures``)."""
    from arenapref.evaluate import plots

    oof = inputs.oof
    targets = oof[list(LABEL_COLUMNS)].to_numpy(dtype=float)
    proba = oof[list(PRED_COLUMNS)].to_numpy(dtype=float)
    folds = oof["fold"].to_numpy()
    prior = prior_oof(targets, folds)
    summary = score(targets, proba, folds)
    class_ece = [binned_gap(proba[:, j], targets[:, j]) for j in range(3)]
    matrix = np.zeros((3, 3))
    np.add.at(matrix, (targets.argmax(axis=1), proba.argmax(axis=1)), 1)
    out: dict[str, Any] = {"summary": summary, "class_ece": class_ece, "confusion": matrix.astype(int).tolist(),
                           "figures": {}, "notes": list(inputs.notes)}
    out["figures"]["reliability"] = plots.reliability_figure(targets, proba, class_ece)
    out["figures"]["confusion"] = plots.confusion_figure(matrix)

    pairs = inputs.pairs
    if pairs is not None:
        chars = np.array([sum(len(t) for t in a) + sum(len(t) for t in b)
                          for a, b in zip(pairs["response_a"], pairs["response_b"])], dtype=float)
        length = length_buckets(chars)
        out["by_length"] = breakdown(length, targets, proba, prior, order=sorted(set(length)))
        for row in out["by_length"]:
            row["bucket"] = row["bucket"].split(": ", 1)[1]
        turns = turn_buckets(np.array([len(p) for p in pairs["prompt"]]))
        out["by_turns"] = breakdown(turns, targets, proba, prior, order=sorted(set(turns)))
        # the whole conversation, not the prompt alone: prompts often quote English text to translate
        scripts = np.array([dominant_script("\n".join(t[:1500] for side in (p, a, b) for t in side[:1])) for p, a, b in
                            zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])], dtype=object)
        out["by_language"] = breakdown(scripts, targets, proba, prior, min_rows=max(5, len(pairs) // 200))
        for key, title in (("by_length", "log loss by total response length (chars, quantile buckets)"),
                           ("by_turns", "log loss by number of turns"),
                           ("by_language", "log loss by writing system of the conversation (language proxy)")):
            out["figures"][key] = plots.breakdown_figure(out[key], title)
        out["model_pairs"], out["models"] = model_pair_tables(pairs, targets, proba, prior)
        if not out["model_pairs"]:
            out["notes"].append("no model names in the data (model_a / model_b empty): per-model tables skipped")
        if position_rows > 0:
            out["position_bias"] = _position_section(inputs, pairs, position_rows, seed, out, log)
    source, curve = find_learning_curve(inputs.run_dir)
    if curve is not None:
        try:
            out["figures"]["learning_curve"] = plots.learning_curve_figure(curve)
            out["learning_curve"] = curve
        except (ValueError, KeyError, TypeError) as err:
            out["notes"].append(f"{source}: not a valid learning curve ({err}); expected "
                                f'{{"x": ..., "series": {{name: [[x, y], ...]}}}}')
    else:
        out["notes"].append(f"no {LEARNING_CURVE_FILE} (or training history in model/llm.json) in the run: "
                            f"no learning curves")
    return out


def curve_from_history(history: list[dict[str, Any]], x: str = "step") -> dict[str, Any]:
    """A learning curve from per-step records (``{"step": 10, "train_loss": .., "val_log_loss": ..}``)."""
    series: dict[str, list[list[float]]] = {}
    for record in history:
        for key, value in record.items():
            if key not in (x, "lr") and isinstance(value, (int, float)) and x in record:
                series.setdefault(key, []).append([float(record[x]), float(value)])
    return {"x": x, "y": "loss", "series": series}


def find_learning_curve(run_dir: Path) -> tuple[Path | None, dict[str, Any] | None]:
    """``learning_curve.json`` in the run, else the training history the LLM model keeps in ``model/llm.json``."""
    path = run_dir / LEARNING_CURVE_FILE
    if path.exists():
        return path, read_json(path)
    llm = run_dir / "model" / "llm.json"
    if llm.exists():
        history = (read_json(llm).get("train") or {}).get("history") or []
        curve = curve_from_history(history)
        if curve["series"]:
            return llm, curve
    return None, None


def _position_section(inputs: ReportInputs, pairs: pd.DataFrame, position_rows: int, seed: int,
                      out: dict[str, Any], log: Any) -> dict[str, Any] | None:
    from arenapref.evaluate import plots
    from arenapref.models.registry import load_model

    try:
        model = load_model(inputs.run_dir / "model")
    except (ImportError, FileNotFoundError, ValueError) as err:
        out["notes"].append(f"position bias skipped: the run's model could not be loaded ({err})")
        return None
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.permutation(len(pairs))[:position_rows])
    log(f"position bias: predicting {len(rows):,} pairs in both orders without TTA")
    try:
        bias = position_bias(model, pairs.iloc[rows].reset_index(drop=True))
    except (KeyError, ValueError, RuntimeError, OSError) as err:
        # e.g. a model saved by an older feature set: the other sections are still worth having
        out["notes"].append(f"position bias skipped: the run's model failed to predict "
                            f"({type(err).__name__}: {str(err)[:300]})")
        return None
    out["figures"]["position_bias"] = plots.position_bias_figure(bias.pop("gaps"), bias["flip_rate"])
    return bias


# --- HTML -----------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}img{max-width:100%;
border:1px solid #eee}.note{color:#8a5a00;background:#fff8e6;padding:.4em .7em;border-left:3px solid #e0a800}
.muted{color:#666;font-size:.9em}"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.0f}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(key, ''))}</td>" for key, _ in columns) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _fitted_line(metrics: dict[str, Any]) -> str:
    """The blend's final parameters (fitted on all rows) in one sentence."""
    fitted = metrics.get("fitted") or {}
    combiner, calibrator = fitted.get("combiner") or {}, fitted.get("calibrator")
    parts = []
    if combiner.get("kind") == "weighted":
        weights = ", ".join(f"{n} {w:.3f}" for n, w in zip(metrics.get("members", []), combiner["weights"]))
        parts.append(f"weights ({combiner['space']} space{', fixed' if combiner.get('fixed') else ''}): {weights}")
    elif combiner.get("kind") == "stack":
        parts.append(f"stacked with logistic regression (C={combiner['C']})")
    if calibrator:
        parts.append("calibrator " + ", ".join(f"{k}={v:.3f}" for k, v in calibrator.items() if isinstance(v, float)))
    return "Final model, fitted on all rows: " + ("; ".join(parts) or "members as they are")


_BREAKDOWN_COLUMNS = [("bucket", "bucket"), ("n", "rows"), ("log_loss", "log loss"), ("accuracy", "accuracy"),
                      ("prior_log_loss", "prior"), ("uniform_log_loss", "uniform")]


def render_html(inputs: ReportInputs, report: dict[str, Any], pngs: dict[str, bytes]) -> str:
    s = report["summary"]
    b = s["baselines"]
    model = inputs.metrics.get("model") or (inputs.config.get("model") or {}).get("type", "?")
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>arenapref report: "
             f"{html.escape(inputs.run_dir.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>Evaluation report: {html.escape(inputs.run_dir.name)}</h1>",
             f"<p class='muted'>run directory {html.escape(str(inputs.run_dir.resolve()))}; model type "
             f"<b>{html.escape(str(model))}</b>; out-of-fold predictions of grouped {s['n_folds']}-fold CV on "
             f"{s['n_rows']:,} rows; written {time.strftime('%Y-%m-%d %H:%M:%S %Z')}</p>"]
    parts += [f"<p class='note'>{html.escape(n)}</p>" for n in report["notes"]]
    parts.append("<h2>Summary (out of fold)</h2>")
    parts.append(_table([
        {"what": "this run", "ll": s["log_loss"], "acc": s["accuracy"], "ece": s["ece"], "cece": s["classwise_ece"]},
        {"what": "class prior (other folds)", "ll": b["prior"], "acc": b["prior_accuracy"]},
        {"what": "uniform", "ll": b["uniform"], "acc": 1 / 3},
    ], [("what", ""), ("ll", "log loss"), ("acc", "accuracy"), ("ece", "ECE (top label)"),
        ("cece", "class-wise ECE")]))
    if inputs.metrics.get("compare"):
        parts.append("<p>Blend / calibration steps (nested CV):</p>")
        parts.append(_table(inputs.metrics["compare"], [("name", "variant"), ("log_loss", "log loss"),
                                                         ("accuracy", "accuracy"), ("ece", "ECE")]))
        parts.append(f"<p class='muted'>{html.escape(_fitted_line(inputs.metrics))}</p>")
    parts.append(_table(s["per_fold"], [("fold", "fold"), ("n_valid", "rows"), ("log_loss", "log loss"),
                                        ("accuracy", "accuracy"), ("prior_log_loss", "prior"),
                                        ("uniform_log_loss", "uniform")]))
    parts.append("<h2>Reliability per class</h2><p>Observed label frequency against the predicted probability "
                 "(15 equal-width bins; bars: how many predictions fall in each bin).</p>")
    parts.append(_img(pngs["reliability"], "reliability diagrams"))
    parts.append("<h2>Confusion matrix</h2>" + _img(pngs["confusion"], "confusion matrix"))
    for key, title in (("by_length", "Log loss by response length"), ("by_turns", "Log loss by turn count"),
                       ("by_language", "Log loss by language (writing system of the conversation)")):
        if key in report:
            parts.append(f"<h2>{title}</h2>" + _img(pngs[key], title) + _table(report[key], _BREAKDOWN_COLUMNS))
    bias = report.get("position_bias")
    if bias:
        parts.append("<h2>Position bias (without swap TTA)</h2>"
                     f"<p>The final model on {bias['n']:,} training pairs, once as shown and once with A and B "
                     f"swapped. Argmax flips on <b>{bias['flip_rate']:.1%}</b>; mean |p(A|x) − p(B|swap x)| = "
                     f"{bias['mean_abs_gap']:.4f} (95th percentile {bias['p95_abs_gap']:.4f}); mean advantage of "
                     f"the first position {bias['mean_first_position_advantage']:+.4f}; of the decisive "
                     f"verdicts in both orders, <b>{bias['first_shown_preferred']:.1%}</b> pick the answer "
                     f"shown first (50% = no position bias). With swap TTA (the default "
                     f"for predict) these are zero by construction. These rows were seen in training, so this "
                     f"measures the model's asymmetry, not its accuracy.</p>")
        parts.append(_img(pngs["position_bias"], "position bias histogram"))
    if report.get("models"):
        parts.append("<h2>Per model</h2><p>Win rate of the model (as A or B) against the model's mean predicted "
                     "win probability; log loss on the rows it appears in.</p>")
        parts.append(_table(report["models"], [("model", "model"), ("n", "rows"), ("observed_win", "observed win"),
                                               ("predicted_win", "predicted win"), ("log_loss", "log loss"),
                                               ("prior_log_loss", "prior")]))
        parts.append("<h2>Per model pair</h2>")
        parts.append(_table(report["model_pairs"], [("pair", "pair"), ("n", "rows"), ("log_loss", "log loss"),
                                                    ("prior_log_loss", "prior"), ("observed_tie", "observed tie"),
                                                    ("predicted_tie", "predicted tie")]))
    if "learning_curve" in pngs:
        parts.append("<h2>Learning curves</h2>" + _img(pngs["learning_curve"], "learning curves"))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dir: str | Path, out_dir: str | Path | None = None, *,
                 data_paths: list[str | Path] | None = None, position_rows: int = 2000, force: bool = False,
                 log: Any = print) -> Path:
    """Build the report of ``run_dir`` into ``out_dir`` (default ``RUN_DIR/report``); returns the HTML path."""
    run_dir = check_run_dir(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / "report"
    refuse_existing(out_dir, force=force, what="report folder")
    inputs = read_report_inputs(run_dir, data_paths, log=log)
    report = compute_report(inputs, position_rows=position_rows, log=log)
    from arenapref.evaluate.plots import png_bytes

    pngs = {name: png_bytes(fig) for name, fig in report.pop("figures").items()}
    page = render_html(inputs, report, pngs)
    with atomic_dir(out_dir, force=force) as tmp:
        for name, png in pngs.items():
            (tmp / f"{name}.png").write_bytes(png)
        (tmp / "report.html").write_text(page, encoding="utf-8")
        write_json(tmp / "report.json", report)
    return out_dir / "report.html"

