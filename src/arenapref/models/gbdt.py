"""The CPU default: LightGBM on hand-made and TF-IDF features, trained with A/B swap augmentation.

Training: every pair is seen in both orientations (labels swapped with it). Early stopping uses
``eval_pairs`` when given, else a grouped ``valid_fraction`` of the training rows; the number of
rounds found there is then used to refit on all training rows (scaled up by the extra data).
Soft labels train through per-class weighted copies (see ``models.base.soft_label_rows``).

Extra data from other domains (the ``source`` column): ``source_weights`` scales the sample weight of
each source's rows (sources not named keep weight 1); ``source_feature`` names the target domain: the
source becomes a categorical feature at training time and is set to the target domain at prediction
time, and early stopping holds out target-domain rows only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from arenapref.data.folds import prompt_groups
from arenapref.data.schema import has_labels, swap_pairs, swap_proba, targets_of
from arenapref.features.handmade import PAIR_FEATURES, pair_feature_matrix
from arenapref.features.swap import check_swap_convention, swap_feature_frame, swap_matrix
from arenapref.features.tfidf import TfidfPairFeatures
from arenapref.metrics import normalise_proba
from arenapref.models.base import soft_label_rows, swap_averaged
from arenapref.runs import RunError, read_array, write_array, write_json
from arenapref.timing import stage

SOURCE_COLUMN = "source_domain"
# bump when a feature's definition changes: a saved model then refuses to load with a clear message
FEATURE_VERSION = 2
DEFAULT_LGB_PARAMS: dict[str, Any] = {
    "learning_rate": 0.05,
    "num_leaves": 7,
    "max_depth": -1,
    "min_child_samples": 50,
    # randomised split thresholds: on ~1k-row data sets they cut early-stopping variance and
    # over-fitting (grouped 5-fold CV on the shared arena rows, 3 seeds: 1.030 vs 1.035); learning rate
    # 0.05 scored the same as 0.02 there (1.0302 vs 1.0304) and stopped after about half the rounds
    "extra_trees": True,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "max_bin": 63,
}


SMALL_PREDICT_ROWS = 512


class GBDTModel:
    name = "gbdt"

    def __init__(
        self,
        lgb_params: dict[str, Any] | None = None,
        n_estimators: int = 3000,
        early_stopping_rounds: int = 50,
        valid_fraction: float = 0.15,
        swap_augment: bool = True,
        use_tfidf: bool = True,
        tfidf: dict[str, Any] | None = None,
        refit_full: bool = True,
        seed: int = 42,
        n_jobs: int = 2,
        progress: bool = False,
        source_weights: dict[str, float] | None = None,
        source_feature: str | None = None,
        embed: dict[str, Any] | None = None,
    ) -> None:
        self.lgb_params = lgb_params
        self.n_estimators = n_estimators
        self.early_stopping_rounds = early_stopping_rounds
        self.valid_fraction = valid_fraction
        self.swap_augment = swap_augment
        self.use_tfidf = use_tfidf
        self.tfidf = tfidf
        self.refit_full = refit_full
        self.seed = seed
        self.n_jobs = n_jobs
        self.progress = progress
        self.source_weights = source_weights
        self.source_feature = source_feature
        self.embed = embed  # sentence-encoder block (features.embed.EmbedFeatures params); None: off

    @property
    def parallel_predict(self) -> bool:
        """Whether batches may be predicted from two threads at once: the hand-made and TF-IDF features
        and the booster only read fitted state; the sentence encoder (and its disk cache) is kept to one."""
        return self.embed is None

    # ----------------------------------------------------------------- features
    def _feature_blocks(self, pairs: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        """Every feature block side by side (hand-made, TF-IDF, encoder) and the names of its columns."""
        names, blocks = list(PAIR_FEATURES), [pair_feature_matrix(pairs)]
        if self.tfidf_ is not None:
            names += self.tfidf_.feature_names
            blocks.append(self.tfidf_.transform_matrix(pairs))
        if getattr(self, "embed_", None) is not None:
            embedded = self.embed_.transform(pairs)
            names += list(embedded.columns)
            blocks.append(embedded.to_numpy())
        return names, np.hstack(blocks)

    def _features(self, pairs: pd.DataFrame) -> pd.DataFrame:
        # one dtype for all blocks: the common type LightGBM converts a frame of mixed columns to anyway
        names, matrix = self._feature_blocks(pairs)
        return pd.DataFrame(matrix, columns=names)

    def _swapped_features(self, pairs: pd.DataFrame, direct: pd.DataFrame) -> pd.DataFrame:
        """Features of the swapped pairs: derived by column convention (one pass over the text) when
        every block follows it, else computed (see ``features.swap``)."""
        if self.swap_by_convention_:
            return swap_feature_frame(direct)
        return self._features(swap_pairs(pairs))

    def _dataset(self, pairs: pd.DataFrame, direct: pd.DataFrame, swapped: pd.DataFrame | None
                 ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        # the swapped copies share the sources and carry the A/B-swapped targets: no swapped table needed
        copies = 1 if swapped is None else 2
        x = pd.concat([direct] if swapped is None else [direct, swapped], ignore_index=True)
        targets = targets_of(pairs)
        t = targets if swapped is None else np.vstack([targets, swap_proba(targets)])
        rows, y, w = soft_label_rows(t)
        sources = np.tile(pairs["source"].astype(str).to_numpy(), copies)
        if self.source_feature is not None:
            codes = pd.Series([self.source_codes_.get(s, -1) for s in sources], name=SOURCE_COLUMN, index=x.index)
            x = pd.concat([x, codes], axis=1)  # one concat: inserting into a wide frame fragments it
        if self.source_weights:
            w = w * np.array([float(self.source_weights.get(s, 1.0)) for s in sources])[rows]
        return x.iloc[rows].reset_index(drop=True), y, w

    def _params(self) -> dict[str, Any]:
        params = {**DEFAULT_LGB_PARAMS, **(self.lgb_params or {})}
        params.update(objective="multiclass", num_class=3, metric="multi_logloss", verbosity=-1,
                      seed=self.seed, num_threads=self.n_jobs, deterministic=True, force_col_wise=True)
        return params

    def _train(self, train: tuple, valid: tuple | None, rounds: int) -> lgb.Booster:
        x, y, w = self._dataset(*train)
        categorical: list[str] | Literal["auto"] = [SOURCE_COLUMN] if self.source_feature is not None else "auto"
        data = lgb.Dataset(x, y, weight=w, free_raw_data=True, categorical_feature=categorical)
        callbacks: list[Callable[..., Any]] = []
        valid_sets = []
        if valid is not None:
            xv, yv, wv = self._dataset(*valid)
            valid_sets = [lgb.Dataset(xv, yv, weight=wv, reference=data)]
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        with stage("lightgbm fit"):
            return lgb.train(self._params(), data, num_boost_round=rounds, valid_sets=valid_sets,
                             callbacks=callbacks)

    def _check_swap_convention(self, pairs: pd.DataFrame) -> bool:
        sample = pairs.iloc[:64]
        return not check_swap_convention(self._features(sample), self._features(swap_pairs(sample)))

    # ----------------------------------------------------------------- interface
    def fit(self, pairs: pd.DataFrame, *, eval_pairs: pd.DataFrame | None = None) -> GBDTModel:
        pairs = pairs.loc[has_labels(pairs)].reset_index(drop=True)
        if len(pairs) == 0:
            raise ValueError("no labelled rows to train on")
        self.source_codes_ = self._source_codes(pairs)
        self.tfidf_ = TfidfPairFeatures(seed=self.seed, **(self.tfidf or {})).fit(pairs) if self.use_tfidf else None
        self.embed_ = _embed_block(self.embed, self.seed, pairs)
        self.swap_by_convention_ = self._check_swap_convention(pairs)
        # features of every training row once; the inner split and the refit index into them
        direct = self._features(pairs)
        swapped = self._swapped_features(pairs, direct) if self.swap_augment else None

        def part(mask: np.ndarray) -> tuple:
            return (pairs.loc[mask].reset_index(drop=True), direct.loc[mask].reset_index(drop=True),
                    None if swapped is None else swapped.loc[mask].reset_index(drop=True))

        everything = (pairs, direct, swapped)
        if eval_pairs is not None:
            eval_pairs = eval_pairs.loc[has_labels(eval_pairs)].reset_index(drop=True)
            eval_direct = self._features(eval_pairs)
            valid = (eval_pairs, eval_direct,
                     self._swapped_features(eval_pairs, eval_direct) if self.swap_augment else None)
            train, refit, n_train = everything, False, len(pairs)
        else:
            groups = prompt_groups(pairs)
            rng = np.random.default_rng(self.seed)
            uniq = np.unique(groups if self.source_feature is None
                             else groups[pairs["source"].astype(str).to_numpy() == self.source_feature])
            held = set(rng.choice(uniq, size=max(1, int(round(self.valid_fraction * len(uniq)))), replace=False))
            is_valid = np.isin(groups, list(held))
            train, valid, refit, n_train = part(~is_valid), part(is_valid), self.refit_full, int((~is_valid).sum())
        booster = self._train(train, valid, self.n_estimators)
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        if refit:
            rounds = max(10, int(round(self.best_iteration_ * len(pairs) / max(n_train, 1))))
            booster = self._train(everything, None, rounds)
        self.booster_ = booster
        self.feature_names_ = list(booster.feature_name())
        return self

    def _booster_input(self, pairs: pd.DataFrame) -> np.ndarray:
        """The booster's input: the features in training order (+ the target source's code), float64 as
        LightGBM reads a frame of int and float columns; no frame is built (for a handful of pairs that
        cost more than the features), the columns are put in order by an index found once per model."""
        names, blocks = self._feature_blocks(pairs)
        order = self._column_order(tuple(names))
        out = np.empty((len(blocks), len(order)), dtype=np.float64)
        known = order >= 0
        out[:, known] = blocks[:, order[known]]
        if self.source_feature is not None:  # the target source's code, the one column no block computes
            out[:, ~known] = self.source_codes_[self.source_feature]
        return out

    def _column_order(self, names: tuple[str, ...]) -> np.ndarray:
        """Per booster feature, its column among ``names`` (-1: the source column)."""
        cached = getattr(self, "_order_cache", None)
        if cached is None or cached[0] != names or cached[1] is not self.feature_names_:
            where = {name: j for j, name in enumerate(names)}
            order = np.array([-1 if f == SOURCE_COLUMN and self.source_feature is not None else where[f]
                              for f in self.feature_names_], dtype=np.intp)
            cached = (names, self.feature_names_, order)
            self._order_cache = cached
        return cached[2]

    def _predict_matrix(self, x: np.ndarray) -> np.ndarray:
        num_iteration = self.booster_.best_iteration or None
        # a small matrix on one thread: OpenMP's threads would spin for longer than the trees take, and
        # on a server that CPU is taken from the requests being parsed (measured in docs/speed.md)
        threads = 1 if len(x) < SMALL_PREDICT_ROWS else self.n_jobs
        with stage("lightgbm predict"):
            return normalise_proba(np.asarray(self.booster_.predict(x, num_iteration=num_iteration,
                                                                    num_threads=threads)))

    def _predict(self, pairs: pd.DataFrame) -> np.ndarray:
        return self._predict_matrix(self._booster_input(pairs))

    def _source_codes(self, pairs: pd.DataFrame) -> dict[str, int]:
        """Category code per training source (only when ``source_feature`` is set)."""
        if self.source_feature is None:
            return {}
        names = sorted(pairs["source"].astype(str).unique())
        if self.source_feature not in names:
            raise ValueError(f"source_feature {self.source_feature!r} is not a source of the training rows "
                             f"(sources: {names})")
        return {name: i for i, name in enumerate(names)}

    def predict_proba(self, pairs: pd.DataFrame, *, swap_tta: bool = False) -> np.ndarray:
        if len(pairs) == 0:
            return np.zeros((0, 3))
        if not swap_tta:
            return self._predict(pairs)
        if not getattr(self, "swap_by_convention_", False):
            return swap_averaged(self._predict, pairs)
        # one feature pass: the swapped frame is derived exactly, so the average is exactly symmetric;
        # one booster call on both orientations stacked (rows are scored independently)
        direct = self._booster_input(pairs)
        stacked = self._predict_matrix(np.vstack([direct, swap_matrix(direct, self.feature_names_)]))
        n = len(direct)
        return normalise_proba(0.5 * (stacked[:n] + swap_proba(stacked[n:])))

    def feature_importance(self) -> pd.Series:
        gain = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(gain, index=self.feature_names_).sort_values(ascending=False)

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("lgb_params", "n_estimators", "early_stopping_rounds",
                                              "valid_fraction", "swap_augment", "use_tfidf", "tfidf",
                                              "refit_full", "seed", "n_jobs", "source_weights",
                                              "source_feature", "embed")}

    def save(self, path: Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(path / "booster.txt"))
        blocks: dict[str, Any] = {}
        for name, block in (("tfidf", self.tfidf_), ("embed", self.embed_)):
            if block is None:
                continue
            meta, arrays = block.to_state()
            for key, array in arrays.items():
                write_array(path / f"{name}.{key}.npy", array)
            blocks[name] = {**meta, "arrays": sorted(arrays)}
        write_json(path / "gbdt.json", {"params": self.get_params(), "best_iteration": self.best_iteration_,
                                        "feature_names": self.feature_names_,
                                        "swap_by_convention": self.swap_by_convention_,
                                        "feature_version": FEATURE_VERSION,
                                        "source_codes": self.source_codes_, "blocks": blocks})

    @classmethod
    def load(cls, path: Path) -> GBDTModel:
        from arenapref.models.state import check_lightgbm_model, read_state, require

        path = Path(path)
        where = path / "gbdt.json"
        state = read_state(where)
        if state.get("feature_version", 1) != FEATURE_VERSION:
            raise ValueError(f"{path}: this gbdt model was trained with feature version "
                             f"{state.get('feature_version', 1)}, this arenapref computes version {FEATURE_VERSION}; "
                             f"retrain it with `arenapref train`")
        params = require(state, "params", dict, where)
        feature_names = require(state, "feature_names", list, where)
        best_iteration = require(state, "best_iteration", int, where)
        blocks = require(state, "blocks", dict, where)
        try:
            model = cls(**params)
        except TypeError as err:
            raise ValueError(f"{where}: 'params' do not fit this arenapref ({err})") from None
        check_lightgbm_model(path / "booster.txt", n_features=len(feature_names), num_class=3)
        try:
            model.booster_ = lgb.Booster(model_file=str(path / "booster.txt"))
        except lgb.basic.LightGBMError as err:  # damage the structural check cannot see; the parser refused it
            raise RunError(f"{path / 'booster.txt'}: damaged LightGBM model ({err})") from None
        built: dict[str, Any] = {"tfidf": None, "embed": None}
        for name, meta in blocks.items():
            if name not in built or not isinstance(meta, dict):
                raise ValueError(f"{where}: unknown feature block {name!r}")
            arrays = {key: read_array(path / f"{name}.{key}.npy") for key in require(meta, "arrays", list, where)}
            block_cls = TfidfPairFeatures if name == "tfidf" else _embed_class()
            try:
                built[name] = block_cls.from_state(meta, arrays)
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path / (name + '.*')}: damaged {name} block ({err})") from None
        model.tfidf_, model.embed_ = built["tfidf"], built["embed"]
        if (model.tfidf_ is None) == bool(model.use_tfidf):
            raise ValueError(f"{where}: use_tfidf={model.use_tfidf} but the tfidf block is "
                             f"{'missing' if model.tfidf_ is None else 'present'}")
        model.best_iteration_ = best_iteration
        model.feature_names_ = [str(f) for f in feature_names]
        model.swap_by_convention_ = bool(state.get("swap_by_convention", False))
        model.source_codes_ = dict(state.get("source_codes") or {})
        if list(model.booster_.feature_name()) != model.feature_names_:
            raise ValueError(f"{path / 'booster.txt'}: its features differ from gbdt.json's feature_names")
        return model

    def __repr__(self) -> str:
        return f"GBDTModel({json.dumps(self.get_params(), default=str)})"


def _embed_class() -> Any:
    from arenapref.features.embed import EmbedFeatures

    return EmbedFeatures


def _embed_block(params: dict[str, Any] | None, seed: int, pairs: pd.DataFrame) -> Any:
    """The fitted sentence-encoder feature block, or None; torch is imported only when it is on."""
    if not params:
        return None
    from arenapref.features.embed import EmbedFeatures

    return EmbedFeatures(**{"seed": seed, **params}).fit(pairs)
