"""The recipe schema: a corpus of config mistakes, each refused in one line naming the key's path;
every bundled recipe valid; defaults read from the models (one place); --set; config show/reference."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import yaml

from arenapref.cli import main
from arenapref.config import ConfigError, bundled_recipes, load_config, load_recipe, parse_set, schema
from arenapref.config.files import CONFIG_DIR
from arenapref.config.reference import markdown

ROOT = Path(__file__).resolve().parents[1]
LLM = "model:\n  type: llm\n  params:\n    model: {base: some/model}\n"

# (recipe YAML, the key path the error must name, a fragment of the message)
MISTAKES: list[tuple[str, str, str]] = [
    # typos at every level
    ("cv: {n_fold: 3}", "cv.n_fold", "did you mean cv.n_folds?"),
    ("seeds: 3", "seeds", "did you mean seed?"),
    ("n_folds: 3", "n_folds", "did you mean cv.n_folds?"),
    ("predcit: {swap_tta: true}", "predcit", "did you mean predict?"),
    ("data: {on_bad_rows: skip}", "data.on_bad_rows", "did you mean data.on_bad_row?"),
    ("data: {allow_soft_label: true}", "data.allow_soft_label", "did you mean data.allow_soft_labels?"),
    ("predict: {swap_ta: false}", "predict.swap_ta", "did you mean predict.swap_tta?"),
    ("model: {type: gbdt, param: {}}", "model.param", "did you mean model.params?"),
    ("model: {params: {n_estimator: 10}}", "model.params.n_estimator", "did you mean model.params.n_estimators?"),
    ("model: {params: {num_leaves: 3}}", "model.params.num_leaves", "did you mean model.params.lgb_params.num_leaves?"),
    ("model: {params: {lgb_params: {num_leavs: 3}}}", "model.params.lgb_params.num_leavs",
     "did you mean model.params.lgb_params.num_leaves?"),
    ("model: {params: {lgb_params: {learning_rat: 0.1}}}", "model.params.lgb_params.learning_rat", "did you mean"),
    ("model: {params: {lgb_params: {zzz_not_a_param: 1}}}", "model.params.lgb_params.zzz_not_a_param",
     "not a LightGBM parameter"),
    ("model: {params: {tfidf: {max_feature: 10}}}", "model.params.tfidf.max_feature",
     "did you mean model.params.tfidf.max_features?"),
    ("model: {params: {embed: {max_len: 10}}}", "model.params.embed.max_len", "did you mean"),
    ("model: {type: length, params: {c: 1.0}}", "model.params.c", "did you mean model.params.C?"),
    ("model: {type: prior, params: {symetric: true}}", "model.params.symetric", "did you mean model.params.symmetric?"),
    (LLM + "    lora: {rank: 8}", "model.params.lora.rank", "unknown key"),
    (LLM + "    train: {learning_rate: 0.1}", "model.params.train.learning_rate", "unknown key"),
    (LLM + "    text: {max_len: 512}", "model.params.text.max_len", "did you mean model.params.text.max_length?"),
    (LLM + "    infer: {batchsize: 4}", "model.params.infer.batchsize", "did you mean model.params.infer.batch_size?"),
    (LLM + "    distil: {alpha: 0.5}", "model.params.distil", "did you mean model.params.distill?"),
    ("blend: {methd: fixed}", "blend.methd", "did you mean blend.method?"),
    # wrong types
    ("cv: {n_folds: five}", "cv.n_folds", "must be an integer, got 'five'"),
    ("cv: {n_folds: 3.0}", "cv.n_folds", "must be an integer"),
    ("predict: {swap_tta: 'false'}", "predict.swap_tta", "must be true or false, got 'false'"),
    ("predict: {swap_tta: 1}", "predict.swap_tta", "must be true or false, got 1"),
    ("data: {allow_soft_labels: 'yes'}", "data.allow_soft_labels", "must be true or false"),
    ("data: {extra: a.jsonl}", "data.extra", "must be a list"),
    ("data: {extra: [a.jsonl, 3]}", "data.extra[1]", "must be a string, got 3"),
    ("seed: '42'", "seed", "must be an integer, got '42'"),
    ("seed: true", "seed", "must be an integer, got true"),
    ("cv: 5", "cv", "must be a mapping"),
    ("cv:", "cv", "must be a mapping of keys, got null"),
    ("model: gbdt", "model", "must be a mapping"),
    ("model: {params: {lgb_params: {learning_rate: fast}}}", "model.params.lgb_params.learning_rate",
     "must be a number, got 'fast'"),
    ("model: {params: {lgb_params: {extra_trees: 'true'}}}", "model.params.lgb_params.extra_trees", "true or false"),
    ("model: {params: {lgb_params: {monotone_constraints: {a: 1}}}}", "model.params.lgb_params.monotone_constraints",
     "must be a number, boolean, string or list"),
    ("model: {params: {n_estimators: 10.5}}", "model.params.n_estimators", "must be an integer"),
    ("model: {params: {use_tfidf: 'no'}}", "model.params.use_tfidf", "true or false"),
    ("model: {params: {source_weights: [0.3]}}", "model.params.source_weights", "must be a mapping"),
    ("model: {params: {lgb_params: [1, 2]}}", "model.params.lgb_params", "must be a mapping"),
    (LLM + "    train: {lr: fast}", "model.params.train.lr", "must be a number"),
    (LLM + "    lora: {target_modules: 3}", "model.params.lora.target_modules", "'all-linear' or a non-empty list"),
    (LLM + "    infer: {merge_lora: 'false'}", "model.params.infer.merge_lora", "true or false"),
    # out of range
    ("cv: {n_folds: 1}", "cv.n_folds", "must be ≥ 2, got 1"),
    ("seed: -1", "seed", "must be ≥ 0, got -1"),
    ("model: {params: {lgb_params: {num_leaves: -5}}}", "model.params.lgb_params.num_leaves", "must be ≥ 2, got -5"),
    ("model: {params: {lgb_params: {learning_rate: 0}}}", "model.params.lgb_params.learning_rate", "must be > 0"),
    ("model: {params: {lgb_params: {feature_fraction: 1.5}}}", "model.params.lgb_params.feature_fraction",
     "must be ≤ 1"),
    ("model: {params: {lgb_params: {colsample_bytree: 0}}}", "model.params.lgb_params.colsample_bytree", "must be > 0"),
    ("model: {params: {lgb_params: {bagging_fraction: 0}}}", "model.params.lgb_params.bagging_fraction", "> 0"),
    ("model: {params: {lgb_params: {lambda_l2: -1}}}", "model.params.lgb_params.lambda_l2", "must be ≥ 0"),
    ("model: {params: {valid_fraction: 1.0}}", "model.params.valid_fraction", "must be < 1"),
    ("model: {params: {n_estimators: 0}}", "model.params.n_estimators", "must be ≥ 1"),
    ("model: {params: {tfidf: {ngram_max: 9}}}", "model.params.tfidf.ngram_max", "must be ≤ 5"),
    ("model: {params: {source_weights: {auto-j: -0.3}}}", "model.params.source_weights.auto-j", "must be ≥ 0"),
    ("model: {type: length, params: {C: 0}}", "model.params.C", "must be > 0"),
    (LLM + "    text: {max_length: 8}", "model.params.text.max_length", "must be ≥ 16"),
    (LLM + "    text: {shares: [0.5, 0.5]}", "model.params.text.shares", "exactly 3"),
    (LLM + "    text: {shares: [0, 0, 0]}", "model.params.text.shares", "must not all be 0"),
    (LLM + "    distill: {alpha: 1.5}", "model.params.distill.alpha", "must be ≤ 1"),
    (LLM + "    lora: {dropout: 1.0}", "model.params.lora.dropout", "must be < 1"),
    (LLM + "    train: {micro_batch_size: 0}", "model.params.train.micro_batch_size", "must be ≥ 1"),
    ("blend: {method: fixed, weights: [-1, 2]}", "blend.weights[0]", "must be ≥ 0"),
    # bad choices
    ("data: {on_bad_row: skipp}", "data.on_bad_row", "must be one of error|skip, got 'skipp'; did you mean skip?"),
    ("model: {type: gbtd}", "model.type", "did you mean gbdt?"),
    ("model: {type: xgboost}", "model.type", "must be one of prior|length|gbdt|llm|blend"),
    ("model: {params: {embed: {dtype: fp16}}}", "model.params.embed.dtype", "must be one of auto|fp32|bf16"),
    ("model: {params: {lgb_params: {boosting: goss}}}", "model.params.lgb_params.boosting", "must be one of gbdt|rf|dart"),
    (LLM + "    train: {swap: ful}", "model.params.train.swap", "did you mean full?"),
    (LLM + "    train: {precision: fp64}", "model.params.train.precision", "must be one of fp32|bf16|fp16"),
    (LLM + "    infer: {precision: int4}", "model.params.infer.precision", "must be one of"),
    (LLM + "    save_mode: everything", "model.params.save_mode", "must be one of auto|adapter|full"),
    ("blend: {calibrate: platt}", "blend.calibrate", "must be one of none|temperature|vector"),
    # cross-key rules and names LightGBM shares
    ("model: {type: llm, params: {}}", "model.params.model", "required key missing"),
    ("model: {type: llm, params: {model: {}}}", "model.params.model.base", "required"),
    ("blend: {method: fixed}", "blend.weights", "method 'fixed' needs weights"),
    ("blend: {method: simplex, weights: [0.5, 0.5]}", "blend.weights", "only used with method 'fixed'"),
    ("model: {params: {lgb_params: {reg_lambda: 1, lambda_l2: 2}}}", "model.params.lgb_params.lambda_l2",
     "same LightGBM parameter as reg_lambda"),
    ("model: {params: {lgb_params: {seed: 3}}}", "model.params.lgb_params.seed", "set by the recipe's seed"),
    ("model: {params: {lgb_params: {n_estimators: 30}}}", "model.params.lgb_params.n_estimators",
     "set by model.params.n_estimators"),
    ("model: {params: {lgb_params: {objective: binary}}}", "model.params.lgb_params.objective", "fixed by arenapref"),
    ("model: {params: {lgb_params: {nthread: 4}}}", "model.params.lgb_params.nthread", "set by model.params.n_jobs"),
    # YAML itself
    ("cv:\n  n_folds: 3\n  n_folds: 4", "cv.n_folds", "duplicate key (lines 2 and 3)"),
    ("model:\n  params:\n    lgb_params: {num_leaves: 3, num_leaves: 4}", "model.params.lgb_params.num_leaves",
     "duplicate key"),
]


@pytest.mark.parametrize(("text", "path", "fragment"), MISTAKES, ids=[m[1] + ":" + m[2][:20] for m in MISTAKES])
def test_mistake_is_refused_with_the_key_path(tmp_path: Path, text: str, path: str, fragment: str) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(recipe)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{recipe}: {path}: "), message
    assert fragment in message, message


def test_corpus_is_large() -> None:
    assert len(MISTAKES) >= 40


@pytest.mark.parametrize("text", ["[1, 2]", "just text", "cv: {n_folds: [", "a: b: c"])
def test_not_a_recipe_is_one_line(tmp_path: Path, text: str) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^{recipe}: "):
        load_config(recipe)


BAD_SETS = [
    ("cv.n_fold=3", "--set cv.n_fold=3: cv.n_fold: unknown key; did you mean cv.n_folds?"),
    ("model.params.lgb_params.num_leaves=abc", "model.params.lgb_params.num_leaves: must be an integer, got 'abc'"),
    ("model.params.lgb_params.num_leaves=-5", "model.params.lgb_params.num_leaves: must be ≥ 2, got -5"),
    ("predict.swap_tta='false'", "predict.swap_tta: must be true or false"),
    ("num_leaves", "--set num_leaves: expected KEY.PATH=VALUE"),
    ("=3", "--set =3: expected KEY.PATH=VALUE"),
    ("cv..n_folds=3", "an empty key segment"),
    ("cv.n_folds=[3", "--set cv.n_folds=[3: not valid YAML"),
    ("model.type=nope", "--set model.type=nope: model.type: must be one of"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD_SETS)
def test_bad_set_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("cpu-default", sets=[text])
    assert "\n" not in str(info.value) and fragment in str(info.value), str(info.value)


@pytest.mark.parametrize("name", ["cpu-default", "cpu-best", "cpu-best-embed", "smollm2-135m-cpu", "gemma2-9b-qlora", "gemma2-9b-distill",
                                  "llama3-8b-qlora", "blend-example"])
def test_bundled_recipe_validates_and_resolves_idempotently(name: str) -> None:
    assert name in bundled_recipes()
    resolved = load_config(name)
    assert load_config(None, resolved) == resolved  # a run's config.yaml reads back as itself
    assert load_config(ROOT / "configs" / f"{name}.yaml") == resolved  # the repo-root copies are the same


def test_every_bundled_recipe_is_tested() -> None:
    assert sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) == sorted(
        ["cpu-default", "cpu-best", "cpu-best-embed", "smollm2-135m-cpu", "gemma2-9b-qlora", "gemma2-9b-distill", "llama3-8b-qlora", "blend-example"])


def test_cpu_default_is_the_gbdt_defaults() -> None:
    """Defaults in one place: the resolved cpu-default is exactly GBDTModel's own defaults, which build the
    same LightGBM parameters as before the schema (the values below are the pre-schema recipe's)."""
    from arenapref.models.gbdt import DEFAULT_LGB_PARAMS, GBDTModel
    from arenapref.models.registry import build_model

    params = load_config("cpu-default")["model"]["params"]
    assert params["lgb_params"] == DEFAULT_LGB_PARAMS
    own = {k: v for k, v in schema.init_defaults(GBDTModel).items() if v is not None}
    assert {k: params[k] for k in own} == own
    model = build_model(load_config("cpu-default")["model"])
    assert model._params() == build_model({"type": "gbdt", "params": {}})._params() == {
        "learning_rate": 0.05, "num_leaves": 7, "max_depth": -1, "min_child_samples": 50, "extra_trees": True,
        "feature_fraction": 0.5, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 5.0, "max_bin": 63,
        "objective": "multiclass", "num_class": 3, "metric": "multi_logloss", "verbosity": -1, "seed": 42,
        "num_threads": 2, "deterministic": True, "force_col_wise": True}  # col-wise: the same trees, faster
    assert (model.n_estimators, model.early_stopping_rounds, model.valid_fraction, model.tfidf) == (
        3000, 50, 0.15, {"max_features": 30000, "ngram_max": 2, "svd_components": 16, "fit_max_pairs": 20000})


def _fields(cls: type) -> set[str]:
    return set(cls.model_fields)


def test_schema_covers_every_model_argument_once() -> None:
    """A new constructor argument or dataclass field cannot be forgotten by the schema (nor a removed one kept)."""
    from arenapref.ensemble.pipeline import BlendSpec
    from arenapref.features.embed import EmbedFeatures
    from arenapref.features.tfidf import TfidfPairFeatures
    from arenapref.models.gbdt import GBDTModel
    from arenapref.models.length import LengthModel
    from arenapref.models.llm import config as llm
    from arenapref.models.prior import PriorModel
    from arenapref.text.truncate import TruncationConfig

    def args(cls: type) -> set[str]:
        return set(inspect.signature(cls.__init__).parameters) - {"self"}

    assert _fields(schema.GBDTParams) == args(GBDTModel)
    assert _fields(schema.TfidfParams) == args(TfidfPairFeatures) - {"seed"}  # the GBDT passes its seed
    assert _fields(schema.EmbedParams) == args(EmbedFeatures)
    assert _fields(schema.LengthParams) == args(LengthModel)
    assert _fields(schema.PriorParams) == args(PriorModel)
    assert _fields(schema.BlendSection) == {f.name for f in dataclasses.fields(BlendSpec)}
    for section, cls in [(schema.LLMModelSpec, llm.ModelSpec), (schema.LoraParams, llm.LoraSpec),
                         (schema.TextParams, TruncationConfig), (schema.TrainParams, llm.TrainSpec),
                         (schema.DistillParams, llm.DistillSpec), (schema.InferParams, llm.InferSpec)]:
        assert _fields(section) == {f.name for f in dataclasses.fields(cls)}, section
    assert set(llm.SECTIONS) | {"seed", "save_mode", "progress"} == _fields(schema.LLMParams)


def test_choices_match_the_code() -> None:
    from typing import get_args

    from arenapref.ensemble.calibration import CALIBRATIONS
    from arenapref.ensemble.pipeline import METHODS
    from arenapref.models.llm import config as llm
    from arenapref.text.truncate import MODES

    def choices(cls: type, name: str) -> tuple:
        ann = cls.model_fields[name].annotation
        return tuple(a for a in get_args(ann) if isinstance(a, str)) or get_args(get_args(ann)[0])

    assert choices(schema.TrainParams, "precision") == llm.PRECISIONS
    assert choices(schema.InferParams, "precision") == llm.INFER_PRECISIONS
    assert choices(schema.TrainParams, "swap") == llm.SWAP_MODES
    assert choices(schema.TextParams, "mode") == MODES
    assert choices(schema.BlendSection, "method") == METHODS
    assert choices(schema.BlendSection, "calibrate") == CALIBRATIONS


def test_llm_init_defaults_match_the_classifier() -> None:
    pytest.importorskip("torch")
    from arenapref.models.llm.model import LLMClassifier

    assert {k: v for k, v in schema.init_defaults(LLMClassifier).items() if k in schema.LLM_INIT_DEFAULTS} == \
        schema.LLM_INIT_DEFAULTS


def test_llm_recipe_resolves_to_the_same_dataclasses() -> None:
    from arenapref.models.llm.config import config_to_dict, make_config

    raw = yaml.safe_load((CONFIG_DIR / "gemma2-9b-qlora.yaml").read_text())["model"]["params"]
    resolved = load_config("gemma2-9b-qlora")["model"]["params"]
    own = {k: v for k, v in resolved.items() if k not in ("save_mode", "progress")}
    assert config_to_dict(make_config(**own)) == config_to_dict(make_config(seed=42, **raw))


def test_set_overrides_one_key_and_parses_yaml_scalars() -> None:
    base = load_config("cpu-default")
    over = load_config("cpu-default", sets=["model.params.lgb_params.num_leaves=15", "model.params.lgb_params.eta=1e-3",
                                            "data.extra=[a.jsonl, b.jsonl]", "model.params.source_feature=arena",
                                            "seed=3", "cv.n_folds=4", "cv.n_folds=3"])
    lgb = over["model"]["params"]["lgb_params"]
    assert lgb["num_leaves"] == 15 and lgb["learning_rate"] == 0.001 and "eta" not in lgb  # alias stored by name
    assert over["data"]["extra"] == ["a.jsonl", "b.jsonl"] and over["cv"]["n_folds"] == 3  # later --set wins
    assert over["seed"] == 3 and over["model"]["params"]["seed"] == 3  # the model inherits the recipe's seed
    assert over["model"]["params"]["source_feature"] == "arena"
    for key in ("predict", "data"):
        assert {k: v for k, v in over[key].items() if k != "extra"} == {k: v for k, v in base[key].items()
                                                                           if k != "extra"}
    assert parse_set("model.params.embed=null").value is None


def test_explicit_model_seed_is_kept_and_lgb_aliases_are_canonical() -> None:
    config = load_config(None, {"seed": 3, "model": {"params": {"seed": 7, "lgb_params": {
        "reg_lambda": 1, "min_data": 5, "subsample_freq": 2, "bagging_seed": 4, "max_bins": 31}}}})
    params = config["model"]["params"]
    assert params["seed"] == 7
    assert {k: params["lgb_params"][k] for k in ("lambda_l2", "min_child_samples", "bagging_freq", "bagging_seed",
                                                  "max_bin")} == {"lambda_l2": 1, "min_child_samples": 5,
                                                                  "bagging_freq": 2, "bagging_seed": 4, "max_bin": 31}


def test_typed_recipe_and_yaml12_floats(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model:\n  params:\n    lgb_params: {learning_rate: 1e-2}\n", encoding="utf-8")
    typed = load_recipe(recipe)
    assert isinstance(typed, schema.Recipe) and isinstance(typed.model, schema.GBDTSection)
    assert typed.model.params.lgb_params.learning_rate == 0.01  # 1e-2 is a number, not the text '1e-2'


def test_cli_config_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["config", "show", "cpu-default", "--set", "cv.n_fold=3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cv.n_fold: unknown key; did you mean cv.n_folds?" in err
    out = tmp_path / "run"
    # train refuses a bad recipe before it reads any data or writes anything
    assert main(["train", "--data", str(tmp_path / "missing.csv"), "--out", str(out), "--folds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "arenapref train: error: --folds 1: cv.n_folds: must be ≥ 2, got 1" and not out.exists()
    assert main(["train", "--data", "x.csv", "--out", str(out), "--set", "predict.swap_tta='false'"]) == 2
    assert "predict.swap_tta: must be true or false" in capsys.readouterr().err


def test_cli_config_show_prints_the_resolved_recipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show", "cpu-default", "--set", "model.params.lgb_params.num_leaves=15"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown == load_config("cpu-default", sets=["model.params.lgb_params.num_leaves=15"])
    assert main(["config", "reference"]) == 0
    assert "model.params.lgb_params.num_leaves: int (default 7; ≥ 2, ≤ 131072)" in capsys.readouterr().out


def test_docs_recipes_md_is_up_to_date() -> None:
    assert (ROOT / "docs" / "recipes.md").read_text(encoding="utf-8") == markdown(), \
        "regenerate: arenapref config reference --markdown > docs/recipes.md"
