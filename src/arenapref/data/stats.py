"""Descriptive statistics of a pairs table: labels, ties, turns, lengths, scripts/languages, sources.

Language is guessed without a model: the dominant writing system of the prompt (Latin, Cyrillic, CJK,
Arabic, ...) and, for Latin text, the language whose common function words occur most (English,
Spanish, French, German, Portuguese, Italian), else ``latin-other``. Good enough to see a data set's
mix, not a language identifier.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from arenapref.data.schema import has_labels, targets_of
from arenapref.text.scripts import STATS_SCRIPTS, script_counts

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and is are of to in that it for you with what how this be".split()),
    "es": frozenset("el la los las que de y en es por para una un con cómo qué".split()),
    "fr": frozenset("le la les des est et en que une un pour dans qui vous avec".split()),
    "de": frozenset("der die das und ist nicht ein eine zu den mit sie ich wie was".split()),
    "pt": frozenset("o os as que de e em um uma para com não é você como".split()),
    "it": frozenset("il lo la gli che di e è un una per con non come sono".split()),
}
_WORD = re.compile(r"\w+", re.UNICODE)
QUANTILES = (0.5, 0.9, 0.99, 1.0)
MAX_SCAN = 2000  # characters of a prompt looked at to guess its language


def guess_language(text: str) -> str:
    """``en``/``es``/``fr``/``de``/``pt``/``it``/``latin-other`` for Latin script, else the script name."""
    text = text[:MAX_SCAN]
    counts = script_counts(text, STATS_SCRIPTS)
    script, n = max(counts.items(), key=lambda kv: kv[1])
    if n == 0:
        return "none"
    if script != "latin":
        return script
    words = [w.casefold() for w in _WORD.findall(text)]
    hits = {lang: sum(w in vocab for w in words) for lang, vocab in FUNCTION_WORDS.items()}
    ranked = sorted(hits.items(), key=lambda kv: -kv[1])
    (lang, top), (_, second) = ranked[0], ranked[1]
    return lang if top > second else "latin-other"  # no function word, or a draw: do not guess


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if len(values) == 0:
        return {}
    return {f"p{int(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES} | {"mean": float(values.mean())}


@dataclass
class PairStats:
    n_rows: int
    n_labelled: int
    n_soft: int
    label_mass: dict[str, float]          # summed label probabilities per class (A, B, tie)
    tie_rate: float
    turns: dict[int, int]
    prompt_chars: dict[str, float]
    response_chars: dict[str, float]
    languages: dict[str, int]
    sources: dict[str, int]
    models: dict[str, int]
    distinct_prompts: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pair_stats(pairs: pd.DataFrame, *, top_models: int = 10) -> PairStats:
    """Statistics of a canonical table (labelled, unlabelled or mixed)."""
    mask = has_labels(pairs)
    targets = targets_of(pairs.loc[mask]) if mask.any() else np.zeros((0, 3))
    soft = int((~np.isclose(targets.max(axis=1), 1.0)).sum()) if len(targets) else 0
    mass = targets.sum(axis=0) if len(targets) else np.zeros(3)
    turns = Counter(len(p) for p in pairs["prompt"])
    prompt_chars = np.array([sum(len(t) for t in p) for p in pairs["prompt"]], dtype=float)
    resp_chars = np.array([sum(len(t) for t in r) for col in ("response_a", "response_b") for r in pairs[col]],
                          dtype=float)
    languages = Counter(guess_language("\n".join(p)) for p in pairs["prompt"])
    models = Counter(m for col in ("model_a", "model_b") if col in pairs for m in pairs[col] if isinstance(m, str))
    sources = pairs["source"].value_counts().to_dict() if "source" in pairs else {}
    from arenapref.data.folds import prompt_groups

    return PairStats(
        n_rows=len(pairs), n_labelled=int(mask.sum()), n_soft=soft,
        label_mass={"A": float(mass[0]), "B": float(mass[1]), "tie": float(mass[2])},
        tie_rate=float(mass[2] / len(targets)) if len(targets) else float("nan"),
        turns=dict(sorted(turns.items())), prompt_chars=_quantiles(prompt_chars),
        response_chars=_quantiles(resp_chars), languages=dict(languages.most_common()),
        sources={str(k): int(v) for k, v in sources.items()}, models=dict(models.most_common(top_models)),
        distinct_prompts=int(len(np.unique(prompt_groups(pairs)))) if len(pairs) else 0,
    )


def format_stats(stats: PairStats, name: str = "") -> str:
    """A short plain-text report."""
    def fmt_q(q: dict[str, float]) -> str:
        return "  ".join(f"{k} {v:,.0f}" for k, v in q.items())

    def fmt_counts(c: dict[Any, int], total: int, limit: int = 12) -> str:
        items = list(c.items())
        shown = ", ".join(f"{k} {v} ({v / max(total, 1):.0%})" for k, v in items[:limit])
        return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")

    m = stats.label_mass
    lab = max(stats.n_labelled, 1)
    lines = [
        f"{name + ': ' if name else ''}{stats.n_rows:,} rows, {stats.n_labelled:,} labelled "
        f"({stats.n_soft:,} soft), {stats.distinct_prompts:,} distinct prompts",
        f"labels     A {m['A']:,.1f} ({m['A'] / lab:.1%})  B {m['B']:,.1f} ({m['B'] / lab:.1%})  "
        f"tie {m['tie']:,.1f} ({m['tie'] / lab:.1%})",
        f"turns      {fmt_counts(stats.turns, stats.n_rows)}",
        f"prompt     chars {fmt_q(stats.prompt_chars)}",
        f"response   chars {fmt_q(stats.response_chars)}",
        f"language   {fmt_counts(stats.languages, stats.n_rows)}",
        f"sources    {fmt_counts(stats.sources, stats.n_rows)}",
    ]
    if stats.models:
        lines.append(f"models     {fmt_counts(stats.models, 2 * stats.n_rows, limit=10)} (top, per side)")
    return "\n".join(lines)
