"""The judge: a run directory opened for prediction, and the only prediction path of the project.

>>> import arenapref
>>> judge = arenapref.load("runs/demo")
>>> result = judge.compare("What is 2+2?", "4", "It is 4, because 2+2=4.")
>>> result.p_a, result.p_b, result.p_tie, result.verdict
>>> proba = judge.predict(pairs_frame)          # (n, 3), columns [A wins, B wins, tie]

Text arguments are a string (one turn) or a list of strings (one per turn); prompt and both responses
must have the same number of turns. Swap averaging (``swap_tta``) follows the run's config
(``predict.swap_tta``, on by default); every call can override it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from arenapref import threads
from arenapref.data.inputs import InputError, clean_pair, pairs_frame
from arenapref.data.schema import CLASS_NAMES, LABEL_COLUMNS, TEXT_COLUMNS
from arenapref.metrics import normalise_proba
from arenapref.models.base import PreferenceModel
from arenapref.models.registry import load_model
from arenapref.runs import Run

Text = str | Sequence[str]
# pairs per model call: large enough that the vectorised feature passes amortise their set-up, small
# enough that two batches in flight stay a few hundred MB
DEFAULT_BATCH_SIZE = 4096


@dataclass(frozen=True)
class Comparison:
    """The judge's answer for one pair: three probabilities (summing to 1) and the most likely class."""

    p_a: float
    p_b: float
    p_tie: float

    @property
    def verdict(self) -> str:
        """``"A"``, ``"B"`` or ``"tie"``: the class with the highest probability."""
        return CLASS_NAMES[int(np.argmax([self.p_a, self.p_b, self.p_tie]))]

    def to_dict(self) -> dict[str, Any]:
        return {LABEL_COLUMNS[0]: self.p_a, LABEL_COLUMNS[1]: self.p_b, LABEL_COLUMNS[2]: self.p_tie,
                "verdict": self.verdict}


def release_feature_cache() -> None:
    """Empty the hand-made feature cache of the GBDT features.

    That cache pays off in cross-validation (the same texts once per fold); a long-running scorer sees
    each text once, so keeping it would only make memory grow with the input.
    """
    handmade = sys.modules.get("arenapref.features.handmade")
    if handmade is not None:  # not imported means nothing cached
        handmade.clear_cache()


class Judge:
    """A loaded run: ``compare`` one pair, ``compare_many`` a list, ``predict`` a whole table.

    The one prediction path of the project: ``predict``, ``compare``, ``batch``, ``serve``,
    ``pseudo-label``, ``demo`` and the Python API all call :meth:`predict_pairs`, so the same rows get
    the same floats through every door. ``swap_tta`` defaults to the run's ``predict.swap_tta``.
    """

    def __init__(self, model: PreferenceModel, *, run: Run | None = None, swap_tta: bool = True,
                 info: dict[str, Any] | None = None) -> None:
        self.model = model
        self.run = run
        self.swap_tta = swap_tta
        self.info = info or {"model": getattr(model, "name", type(model).__name__)}

    @property
    def run_dir(self) -> Path | None:
        return None if self.run is None else self.run.path

    @property
    def fingerprint(self) -> dict[str, Any]:
        """What decides this judge's outputs: the run's files (manifest hash), settings and version."""
        return {"run": None if self.run is None else self.run.fingerprint, "swap_tta": self.swap_tta,
                "arenapref_version": _version()}

    def _swap(self, swap_tta: bool | None) -> bool:
        return self.swap_tta if swap_tta is None else bool(swap_tta)

    def predict_pairs(self, pairs: pd.DataFrame, *, swap_tta: bool | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, 3) probabilities for an already canonical, validated pairs table."""
        predict = functools.partial(self.model.predict_proba, swap_tta=self._swap(swap_tta))
        batches = ([pairs] if len(pairs) <= batch_size else
                   [pairs.iloc[i:i + batch_size] for i in range(0, len(pairs), batch_size)])
        if len(batches) > 1 and getattr(self.model, "parallel_predict", False):
            # rows are scored independently: two batches at once keep both cores busy through the
            # single-threaded parts (Python, numpy) of each batch; the order of the output is kept
            parts = list(threads.pool("batches").map(predict, batches))
        else:
            parts = [predict(b) for b in batches]
        return normalise_proba(np.vstack(parts)) if parts else np.zeros((0, 3))

    def predict(self, df: pd.DataFrame, *, swap_tta: bool | None = None,
                batch_size: int = DEFAULT_BATCH_SIZE) -> np.ndarray:
        """(n, 3) probabilities ``[A wins, B wins, tie]`` for a table with prompt/response_a/response_b.

        Cells are strings or lists of strings; other columns are ignored. A bad row raises
        :class:`InputError` naming its position and field.
        """
        missing = [c for c in TEXT_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(None, f"missing column(s) {missing}; the table has {list(df.columns)}")
        rows = []
        for i, (prompt, resp_a, resp_b) in enumerate(zip(df["prompt"], df["response_a"], df["response_b"])):
            try:
                rows.append(clean_pair(prompt, resp_a, resp_b, row_id=str(i)))
            except InputError as err:
                raise InputError(err.field, err.reason, row=i) from None
        return self.predict_pairs(pairs_frame(rows), swap_tta=swap_tta, batch_size=batch_size)

    def compare_many(self, items: Iterable[tuple[Text, Text, Text]], *,
                     swap_tta: bool | None = None) -> list[Comparison]:
        """One :class:`Comparison` per ``(prompt, response_a, response_b)``, scored in one model call."""
        rows = []
        for i, (prompt, resp_a, resp_b) in enumerate(items):
            try:
                rows.append(clean_pair(prompt, resp_a, resp_b, row_id=str(i)))
            except InputError as err:
                raise InputError(err.field, err.reason, row=i) from None
        proba = self.predict_pairs(pairs_frame(rows), swap_tta=swap_tta)
        return [Comparison(float(p[0]), float(p[1]), float(p[2])) for p in proba]

    def compare(self, prompt: Text, response_a: Text, response_b: Text, *,
                swap_tta: bool | None = None) -> Comparison:
        """Score one pair; a bad argument raises :class:`InputError` naming it."""
        row = clean_pair(prompt, response_a, response_b)
        p = self.predict_pairs(pairs_frame([row]), swap_tta=swap_tta)[0]
        return Comparison(float(p[0]), float(p[1]), float(p[2]))

    def rank(self, prompt: Text, answers: Sequence[Text]) -> Any:
        """Rank N answers to one prompt: every pair scored swap-averaged, Davidson-Bradley-Terry
        strengths with ties, expected win probability against the field, the best answer
        (see :func:`arenapref.ranking.rank_answers`)."""
        from arenapref.ranking import rank_answers

        return rank_answers(self, prompt, list(answers))

    def __repr__(self) -> str:
        return f"Judge(run={self.info.get('run')!r}, model={self.info.get('model')!r}, swap_tta={self.swap_tta})"


def run_info(run: Run) -> dict[str, Any]:
    """What a run holds: its name (not the server's path), model type, recipe, CV metrics, versions."""
    model_file = run.manifest["files"].get("model/model.json")
    info: dict[str, Any] = {"run": run.name, "fingerprint": run.fingerprint}
    info["model"] = None
    if model_file is not None:
        from arenapref.runs import read_json_object

        info["model"] = read_json_object(run.model_dir / "model.json").get("type")
    info["recipe"] = run.config.get("model")
    info["metrics"] = {k: run.metrics[k] for k in ("log_loss", "accuracy", "baselines", "n_rows", "n_folds")
                       if k in run.metrics}
    info["trained_with"] = run.info.get("arenapref_version")
    info["created"] = run.info.get("created")
    info["arenapref_version"] = _version()
    return info


def load(run_dir: str | Path, *, swap_tta: bool | None = None) -> Judge:
    """Open a run directory (made by ``arenapref train``/``demo``/``blend``) as a :class:`Judge`.

    The manifest is checked against every file before anything is parsed (:class:`arenapref.runs.Run`);
    a damaged run raises :class:`arenapref.runs.RunError` naming the file. ``swap_tta=None`` uses the
    run's ``predict.swap_tta`` setting (on unless the recipe turned it off).
    """
    run = Run.open(run_dir)
    if swap_tta is None:
        swap_tta = run.predict_settings["swap_tta"]
    judge = Judge(load_model(run.model_dir), run=run, swap_tta=bool(swap_tta), info=run_info(run))
    try:
        # fail at load, not on every later request, when the saved model does not fit this code
        judge.compare("Is this model usable?", "Yes.", "No.")
    except Exception as err:
        raise ValueError(f"{run.path}: the saved model cannot score with arenapref {_version()} "
                         f"({type(err).__name__}: {str(err)[:200]}); retrain the run") from err
    return judge


def _version() -> str:
    from arenapref.version import __version__

    return __version__
