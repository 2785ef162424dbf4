"""Recipe inheritance: ``extends: NAME_OR_PATH`` deep-merges a file over its base (recursively), before
--set and validation; the resolved recipe has no ``extends``; every mistake is one line naming the files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from arenapref.config import CONFIG_DIR, ConfigError, load_config
from arenapref.config.files import MAX_EXTENDS
from arenapref.config.reference import markdown, text


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def error(recipe: Path | str, sets: list[str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(recipe, sets=sets or [])
    message = str(info.value)
    assert "\n" not in message, message
    return message


BASE = """seed: 1
cv: {n_folds: 3}
data:
  extra: [a.jsonl, b.jsonl]
model:
  params:
    n_estimators: 100
    lgb_params: {num_leaves: 7, learning_rate: 0.1}
"""


def test_child_overrides_a_scalar_merges_a_mapping_and_replaces_a_list(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nseed: 2\ndata: {extra: [c.jsonl]}\n"
                                          "model: {params: {lgb_params: {num_leaves: 15}}}\n")
    config = load_config(child)
    assert config["seed"] == 2                                   # scalar: the child's
    assert config["cv"]["n_folds"] == 3                          # untouched section: the base's
    assert config["data"]["extra"] == ["c.jsonl"]                # list: replaced, not appended
    params = config["model"]["params"]
    assert params["lgb_params"]["num_leaves"] == 15 and params["lgb_params"]["learning_rate"] == 0.1
    assert params["n_estimators"] == 100                         # nested mapping: merged key by key
    assert "extends" not in config
    assert load_config(None, config) == config                   # what a run records reads back as itself


def test_a_chain_of_two_bases_nearest_file_wins(tmp_path: Path) -> None:
    write(tmp_path, "grand.yaml", "seed: 1\ncv: {n_folds: 3}\npredict: {swap_tta: false}\n")
    write(tmp_path, "parent.yaml", "extends: grand.yaml\nseed: 2\ncv: {n_folds: 4}\n")
    child = write(tmp_path, "child.yaml", "extends: parent.yaml\nseed: 3\n")
    config = load_config(child)
    assert (config["seed"], config["cv"]["n_folds"], config["predict"]["swap_tta"]) == (3, 4, False)


def test_a_cycle_names_the_files(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nseed: 1\n")
    b = write(tmp_path, "b.yaml", "extends: a.yaml\nseed: 2\n")
    message = error(a)
    assert message.startswith(f"{a}: extends: a cycle: ") and f"{a} extends {b} extends {a}" in message, message
    itself = write(tmp_path, "self.yaml", "extends: ./self.yaml\n")  # another spelling of the same file
    assert "a cycle" in error(itself)


def test_a_missing_base_names_the_extending_file_and_the_value(tmp_path: Path) -> None:
    child = write(tmp_path, "child.yaml", "extends: no-such-base.yaml\n")
    message = error(child)
    assert message.startswith(f"{child}: extends: 'no-such-base.yaml': no such recipe"), message
    assert "cpu-best" in message  # the bundled names, to pick from
    # deeper in a chain the base that names the missing file is the one at fault
    middle = write(tmp_path, "middle.yaml", "extends: gone.yaml\n")
    top = write(tmp_path, "top.yaml", "extends: middle.yaml\n")
    assert error(top).startswith(f"{middle}: extends: 'gone.yaml': no such recipe")


@pytest.mark.parametrize(("value", "shown"), [("[a.yaml, b.yaml]", "['a.yaml', 'b.yaml']"), ("null", "null"),
                                              ("3", "3"), ("''", "''")])
def test_extends_must_be_a_name_or_a_path(tmp_path: Path, value: str, shown: str) -> None:
    child = write(tmp_path, "child.yaml", f"extends: {value}\n")
    assert error(child) == f"{child}: extends: must be a bundled recipe name or a path, got {shown}"


def test_too_deep_a_chain_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "r0.yaml", "seed: 0\n")
    for i in range(1, MAX_EXTENDS + 2):
        write(tmp_path, f"r{i}.yaml", f"extends: r{i - 1}.yaml\nseed: {i}\n")
    assert load_config(tmp_path / f"r{MAX_EXTENDS}.yaml")["seed"] == MAX_EXTENDS  # 8 levels: fine
    deepest = tmp_path / f"r{MAX_EXTENDS + 1}.yaml"
    assert error(deepest).startswith(f"{deepest}: extends: more than {MAX_EXTENDS} levels (")


def test_a_relative_base_is_looked_up_beside_the_file_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "base.yaml", "seed: 1\n")                          # as given (the working folder)
    write(tmp_path, "recipes/base.yaml", "seed: 2\n")                  # beside the extending file
    write(tmp_path, "common/shared.yaml", "cv: {n_folds: 7}\n")
    child = write(tmp_path, "recipes/child.yaml", "extends: base.yaml\n")
    assert load_config(child)["seed"] == 2
    up = write(tmp_path, "recipes/up.yaml", "extends: ../common/shared.yaml\n")
    assert load_config(up)["cv"]["n_folds"] == 7
    # not beside it: as given, relative to the working folder
    only_here = write(tmp_path, "recipes/other/child.yaml", "extends: base.yaml\n")
    assert load_config(only_here)["seed"] == 1
    # a bundled name, even with a folder of that name in the way
    expected = load_config("cpu-best", sets=["seed=9"])
    (tmp_path / "cpu-best").mkdir()
    bundled = write(tmp_path, "recipes/bundled.yaml", "extends: cpu-best\nseed: 9\n")
    assert load_config(bundled) == expected


def test_bundled_cpu_best_embed_is_cpu_best_plus_the_encoder_block() -> None:
    raw = yaml.safe_load((CONFIG_DIR / "cpu-best-embed.yaml").read_text(encoding="utf-8"))
    assert raw == {"extends": "cpu-best", "model": {"params": {"embed": {"max_length": 256, "directions": 16}}}}
    best, embed = load_config("cpu-best"), load_config("cpu-best-embed")
    assert best["model"]["params"]["embed"] is None
    block = embed["model"]["params"].pop("embed")
    assert (block["max_length"], block["directions"]) == (256, 16)
    best["model"]["params"].pop("embed")
    assert embed == best  # every other key is cpu-best's


def test_set_applies_over_the_merged_recipe(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nseed: 2\n")
    config = load_config(child, sets=["seed=5", "model.params.lgb_params.learning_rate=0.2", "data.extra=[d.jsonl]"])
    assert config["seed"] == 5 and config["data"]["extra"] == ["d.jsonl"]
    assert config["model"]["params"]["lgb_params"]["learning_rate"] == 0.2  # a base's key, overridden
    assert config["model"]["params"]["lgb_params"]["num_leaves"] == 7       # its sibling kept
    assert config["model"]["params"]["n_estimators"] == 100


def test_validation_errors_name_the_extending_file_and_the_base_that_wrote_the_key(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "cv: {n_fold: 3}\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\npredict: {swap_ta: true}\n")
    message = error(child)
    assert f"{child}: predict.swap_ta: unknown key; did you mean predict.swap_tta?" in message, message
    assert (f"{child} (the key is from its base {base}): cv.n_fold: unknown key; did you mean cv.n_folds?"
            in message), message
    # a key in no file (missing): the child, with what it was merged over; a --set stays the --set's
    llm = write(tmp_path, "llm.yaml", "model: {type: llm}\n")
    small = write(tmp_path, "small.yaml", "extends: llm.yaml\nseed: 3\n")
    assert error(small).startswith(f"{small} (merged over its base {llm}): model.params: required key missing")
    fine = write(tmp_path, "fine.yaml", "extends: cpu-best\n")
    assert error(fine, ["cv.n_folds=1"]).startswith("--set cv.n_folds=1: cv.n_folds: must be ≥ 2")


def test_extends_is_only_read_from_a_file(tmp_path: Path) -> None:
    assert error("cpu-default", ["extends=cpu-best"]) == (
        "--set extends=cpu-best: extends: only a recipe file can extend another")
    nested = write(tmp_path, "nested.yaml", "model: {extends: cpu-best}\n")  # only the top level extends
    assert error(nested).startswith(f"{nested}: model.extends: unknown key")


def test_the_reference_lists_extends() -> None:
    assert "| `extends` | str | `(unset)` |" in markdown()
    assert text().splitlines()[1].startswith("  extends: str")


def test_a_folder_named_like_a_bundled_recipe_does_not_shadow_it(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cpu-best").mkdir()  # e.g. a run directory named after its recipe
    monkeypatch.chdir(tmp_path)
    assert load_config("cpu-best") == load_config(CONFIG_DIR / "cpu-best.yaml")
