"""Why a gbdt run prefers one answer: LightGBM's own per-feature contributions, in plain words.

``booster.predict(x, pred_contrib=True)`` splits each class score (log-odds) into one additive part per
feature (TreeSHAP) plus a bias. The verdict between A and B is decided by the difference of the A and B
scores, so a feature's weight is its contribution to ``score_A - score_B``. To match the swap-averaged
prediction, the weight is averaged over both orders (the swapped pair's contribution read back in the
original orientation); related columns (``chars_a``, ``chars_b``, ``chars_diff``, ``chars_rel``, ``words_*``
...) are summed into one *aspect* ("length"), which is what a sentence can describe. Swapping A and B
mirrors every explanation exactly: same aspects, same weights with the sign flipped, A and B exchanged
in the text.

Only models with a LightGBM booster over named features can do this; every other run type answers
with ``available=False`` and a message instead of a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# aspect -> the per-text features (features.handmade.TEXT_FEATURES) whose *_a/_b/_diff/_rel columns it sums
_TEXT_ASPECTS: dict[str, tuple[str, ...]] = {
    "length": ("chars", "words", "unique_words", "sentences", "lines", "paragraphs"),
    "headers": ("headers",), "lists": ("list_items", "numbered_items"), "bold": ("bold",),
    "code": ("code_blocks", "inline_code"), "links": ("links",), "tables": ("table_rows",),
    "refusal": ("refusals", "apologies"), "hedging": ("hedges",), "questions": ("questions",),
    "exclamations": ("exclamations",), "sentence style": ("unique_word_ratio", "avg_word_len", "words_per_sentence"),
    "numbers": ("digits",), "typography": ("uppercase", "punctuation"), "emoji": ("emoji",), "math": ("latex",),
    "language": ("script_latin", "script_cyrillic", "script_cjk", "script_arabic", "non_ascii"),
    "repetition": ("repeated_lines", "compress_ratio"), "empty turns": ("empty_turns",),
}
_COLUMN_ASPECT = {name: aspect for aspect, names in _TEXT_ASPECTS.items() for name in names}
MIN_WEIGHT = 0.01  # log-odds; smaller contributions are noise, not reasons


@dataclass(frozen=True)
class Reason:
    aspect: str      # "length", "headers", ...
    favours: str     # "A" or "B"
    weight: float    # contribution to log-odds(A over B), swap-averaged; > 0 favours A
    text: str        # "A is 3.1× longer than B"

    def to_dict(self) -> dict[str, Any]:
        return {"aspect": self.aspect, "favours": self.favours, "weight": self.weight, "text": self.text}


@dataclass(frozen=True)
class Explanation:
    available: bool
    reasons: list[Reason] = field(default_factory=list)
    margin: float | None = None   # total log-odds(A over B) of the swap-averaged scores
    message: str | None = None    # why there is no explanation

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"available": self.available, "reasons": [r.to_dict() for r in self.reasons]}
        if self.margin is not None:
            out["margin"] = self.margin
        if self.message:
            out["message"] = self.message
        return out


def can_explain(model: Any) -> bool:
    return all(hasattr(model, name) for name in ("booster_", "_features", "feature_names_"))


def cannot_explain(model: Any) -> Explanation:
    kind = getattr(model, "name", type(model).__name__)
    return Explanation(False, message=f"this run type ({kind}) cannot explain its verdicts: explanations come from "
                                      f"LightGBM's per-feature contributions, which only gbdt runs have")


def aspect_of(column: str) -> str:
    """The aspect a feature column belongs to (see module doc)."""
    if column.startswith("prompt_") or column == "turns":
        return "prompt"
    if column.startswith(("overlap_prompt", "tfidf_cos_prompt")):
        return "relevance"
    if column in ("overlap_ab", "identical", "tfidf_cos_ab"):
        return "similarity"
    if column.startswith("tfidf_"):
        return "wording"
    if column.startswith("embed_"):
        return "meaning"
    for suffix in ("_a", "_b", "_diff", "_rel"):
        if column.endswith(suffix) and column[: -len(suffix)] in _COLUMN_ASPECT:
            return _COLUMN_ASPECT[column[: -len(suffix)]]
    return "other"


def _booster_frame(model: Any, features: pd.DataFrame) -> pd.DataFrame:
    # the columns the booster was trained on, as GBDTModel._booster_input orders them
    source = getattr(model, "source_feature", None)
    if source is not None:
        from arenapref.models.gbdt import SOURCE_COLUMN

        features = features.assign(**{SOURCE_COLUMN: model.source_codes_[source]})
    return features[model.feature_names_]


def _contributions(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """(n, 3, n_features) per-feature contributions to the three class scores (bias dropped)."""
    n_features = len(model.feature_names_)
    raw = model.booster_.predict(frame, pred_contrib=True, num_iteration=model.booster_.best_iteration or None)
    return np.asarray(raw, dtype=float).reshape(len(frame), 3, n_features + 1)[:, :, :n_features]


def explain(model: Any, pairs: pd.DataFrame, *, top: int = 5) -> list[Explanation]:
    """One :class:`Explanation` per row of a canonical pairs table (top ``top`` reasons, strongest first)."""
    if not can_explain(model):
        return [cannot_explain(model)] * len(pairs)
    if len(pairs) == 0:
        return []
    from arenapref.data.schema import swap_pairs
    from arenapref.features.swap import swap_feature_frame

    direct = model._features(pairs)
    swapped = swap_feature_frame(direct) if getattr(model, "swap_by_convention_", False) \
        else model._features(swap_pairs(pairs))
    c_direct = _contributions(model, _booster_frame(model, direct))
    c_swapped = _contributions(model, _booster_frame(model, swapped))
    # log-odds of the original A over the original B, from each order; in the swapped order A is class 1
    margin = 0.5 * ((c_direct[:, 0] - c_direct[:, 1]) + (c_swapped[:, 1] - c_swapped[:, 0]))
    aspects = [aspect_of(c) for c in model.feature_names_]
    names = sorted(set(aspects))
    member = np.array([[a == name for a in aspects] for name in names], dtype=float)  # (aspects, features)
    by_aspect = margin @ member.T
    out = []
    for i in range(len(pairs)):
        row = direct.iloc[i]
        order = sorted(range(len(names)), key=lambda k: (-abs(round(by_aspect[i, k], 12)), names[k]))
        reasons = []
        for k in order[:top]:
            weight = float(by_aspect[i, k])
            if abs(weight) < MIN_WEIGHT:
                break
            favours = "A" if weight > 0 else "B"
            reasons.append(Reason(names[k], favours, weight, describe(names[k], row, favours)))
        out.append(Explanation(True, reasons, margin=float(margin[i].sum())))
    return out


def explain_pair(judge: Any, prompt: Any, response_a: Any, response_b: Any, *, top: int = 5) -> Explanation:
    """The explanation of one pair scored by ``judge`` (arguments as for ``Judge.compare``)."""
    from arenapref.data.inputs import clean_pair, pairs_frame

    if not can_explain(judge.model):
        return cannot_explain(judge.model)
    return explain(judge.model, pairs_frame([clean_pair(prompt, response_a, response_b)]), top=top)[0]


# --- plain words ---------------------------------------------------------------------------------------

def _sides(row: pd.Series, name: str) -> tuple[float, float]:
    a, b = row.get(f"{name}_a"), row.get(f"{name}_b")
    return (float(a) if a is not None else float("nan"), float(b) if b is not None else float("nan"))


def _count(row: pd.Series, names: tuple[str, ...], noun: str, favours: str) -> str:
    a = sum(_sides(row, n)[0] for n in names)
    b = sum(_sides(row, n)[1] for n in names)
    first, second = ("A", "B") if favours == "A" else ("B", "A")
    values = {"A": int(round(a)), "B": int(round(b))}
    if values["A"] == values["B"]:
        return f"both answers have {values['A'] or 'no'} {noun}"
    # the side with more comes first: "B has 4 headers, A none"
    if values[second] > values[first]:
        first, second = second, first
    other = values[second]
    return f"{first} has {values[first]} {noun}, {second} {other if other else 'none'}"


def _length(row: pd.Series, favours: str) -> str:
    a, b = _sides(row, "chars")
    if min(a, b) <= 0:
        empty = "A" if a <= 0 else "B"
        return f"{empty} is empty" if max(a, b) > 0 else "both answers are empty"
    longer, shorter = ("A", "B") if a >= b else ("B", "A")
    ratio = max(a, b) / min(a, b)
    if ratio < 1.1:
        return f"the two answers are about as long ({int(max(a, b)):,} and {int(min(a, b)):,} characters)"
    return f"{longer} is {ratio:.1f}× longer than {shorter} ({int(max(a, b)):,} vs {int(min(a, b)):,} characters)"


def _values(row: pd.Series, name: str, what: str, favours: str, fmt: str = "{:.0f}") -> str:
    """``what: A 12, B 3`` with the favoured side first, so that the swapped pair reads as the mirror."""
    a, b = _sides(row, name)
    first, second = (("A", a), ("B", b)) if favours == "A" else (("B", b), ("A", a))
    return f"{what}: {first[0]} {fmt.format(first[1])}, {second[0]} {fmt.format(second[1])}"


def describe(aspect: str, row: pd.Series, favours: str) -> str:
    """A sentence about ``aspect`` of this pair (feature values in ``row``). Symmetric by construction: the
    sentence for the swapped pair is this one with the letters A and B exchanged."""
    texts: dict[str, Callable[[], str]] = {
        "length": lambda: _length(row, favours),
        "headers": lambda: _count(row, ("headers",), "headers", favours),
        "lists": lambda: _count(row, ("list_items",), "list items", favours),
        "bold": lambda: _count(row, ("bold",), "bold phrases", favours),
        "code": lambda: _count(row, ("code_blocks",), "code fences", favours)
        if sum(_sides(row, "code_blocks")) else _count(row, ("inline_code",), "inline code spans", favours),
        "links": lambda: _count(row, ("links",), "links", favours),
        "tables": lambda: _count(row, ("table_rows",), "table rows", favours),
        "refusal": lambda: _count(row, ("refusals", "apologies"), "refusal or apology phrases", favours),
        "hedging": lambda: _count(row, ("hedges",), "hedging phrases", favours),
        "questions": lambda: _count(row, ("questions",), "question marks", favours),
        "exclamations": lambda: _count(row, ("exclamations",), "exclamation marks", favours),
        "numbers": lambda: _count(row, ("digits",), "digits", favours),
        "emoji": lambda: _count(row, ("emoji",), "emoji", favours),
        "math": lambda: _count(row, ("latex",), "LaTeX snippets", favours),
        "repetition": lambda: _count(row, ("repeated_lines",), "repeated lines", favours),
        "empty turns": lambda: _count(row, ("empty_turns",), "empty turns", favours),
        "sentence style": lambda: _values(row, "words_per_sentence", "words per sentence", favours),
        "typography": lambda: _values(row, "uppercase", "capital letters", favours),
        "language": lambda: _values(row, "non_ascii", "share of non-ASCII characters", favours, "{:.0%}"),
        "relevance": lambda: _values(row, "overlap_prompt", "word overlap with the prompt", favours, "{:.0%}"),
        "similarity": lambda: f"the two answers share {float(row.get('overlap_ab', 0)):.0%} of their words",
        "wording": lambda: f"the word choice (TF-IDF features) points to {favours}",
        "meaning": lambda: f"the sentence-encoder features point to {favours}",
        "prompt": lambda: f"this kind of prompt (length, code, language) leans toward {favours}",
    }
    return texts.get(aspect, lambda: f"other features point to {favours}")()
