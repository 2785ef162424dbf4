"""Reading a saved model's files defensively: every value is checked before it is used, and the
LightGBM text model is checked for structure before LightGBM's native parser sees it (a damaged
model file can crash that parser instead of raising).

The run manifest (``runs.verify_run``) already refuses files whose bytes changed; these checks are
the second line, for a run whose manifest was rewritten along with its files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from arenapref.runs import RunError, read_json_object

MAX_STATE_BYTES = 256 << 20


def read_state(path: Path) -> dict[str, Any]:
    """A JSON object from a model file, or a one-line :class:`RunError` naming the file."""
    return read_json_object(path, max_bytes=MAX_STATE_BYTES)


def require(state: dict[str, Any], key: str, kind: type | tuple[type, ...], where: Path) -> Any:
    """``state[key]`` if present and of type ``kind``; else a one-line error naming file and key."""
    if not isinstance(state, dict) or key not in state:
        raise RunError(f"{where}: damaged (no {key!r})")
    value = state[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RunError(f"{where}: damaged ({key!r} has the wrong type {type(value).__name__})")
    return value


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split()]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split()]


def check_lightgbm_model(path: Path, *, n_features: int, num_class: int) -> None:
    """Structural check of a LightGBM text model: header, feature count, and every tree's arrays
    (lengths, child and feature indices in range). Raises :class:`RunError` naming the file."""
    if not path.is_file():
        raise RunError(f"{path}: missing")
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError:
        raise RunError(f"{path}: damaged (not a LightGBM text model)") from None

    def bad(why: str) -> RunError:
        return RunError(f"{path}: damaged LightGBM model ({why})")

    head, sep, rest = text.partition("\nTree=")
    if not sep or not head.startswith("tree\n"):
        raise bad("no header or no trees")
    if "end of trees" not in rest:
        raise bad("truncated: no 'end of trees'")
    header_lines = head.splitlines()[1:]
    if not all("=" in line for line in header_lines):
        raise bad("malformed header line")
    header = dict(line.split("=", 1) for line in header_lines)
    unknown = set(header) - _HEADER_KEYS
    if unknown:
        raise bad(f"unknown header key {sorted(unknown)[0]!r}")
    if header.get("version") != "v4" or header.get("objective") != f"multiclass num_class:{num_class}":
        raise bad("not a LightGBM v4 multiclass model")
    if not all(_FEATURE_INFO.fullmatch(tok) for tok in header.get("feature_infos", "").split()) \
            or len(header.get("feature_infos", "").split()) != n_features:
        raise bad("malformed feature_infos")
    try:
        if int(header.get("num_class", -1)) != num_class:
            raise bad(f"num_class {header.get('num_class')!r}, expected {num_class}")
        max_feature_idx = int(header["max_feature_idx"])
        per_iteration = int(header.get("num_tree_per_iteration", num_class))
    except (KeyError, ValueError):
        raise bad("malformed header") from None
    if max_feature_idx != n_features - 1 or len(header.get("feature_names", "").split()) != n_features:
        raise bad(f"{max_feature_idx + 1} features, expected {n_features}")
    if per_iteration != num_class:
        raise bad(f"num_tree_per_iteration {per_iteration}, expected {num_class}")
    trees_text, tail = rest.split("end of trees", 1)
    trees_text = "Tree=" + trees_text
    _check_tail(tail, bad)
    # LightGBM cuts the trees out of the text by these sizes: they must add up exactly, tree by tree
    try:
        sizes = _ints(header["tree_sizes"])
    except (KeyError, ValueError):
        raise bad("no valid tree_sizes") from None
    if not sizes or sum(sizes) != len(trees_text) or any(n <= 0 for n in sizes):
        raise bad("tree_sizes do not match the trees")
    if len(sizes) % num_class:
        raise bad(f"{len(sizes)} trees is not a multiple of {num_class}")
    offset = 0
    for i, size in enumerate(sizes):
        block = trees_text[offset:offset + size]
        offset += size
        if not block.startswith(f"Tree={i}\n"):
            raise bad(f"tree {i} is not where tree_sizes put it")
        lines = [line for line in block.splitlines()[1:] if line]
        if not all("=" in line for line in lines):
            raise bad(f"tree {i}: malformed line")
        fields = dict(line.split("=", 1) for line in lines)
        try:
            _check_numbers(fields)
            _check_tree(fields, n_features)
        except (KeyError, ValueError) as err:
            raise bad(f"tree {i}: {err}") from None


_HEADER_KEYS = {"version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx", "objective",
                "feature_names", "feature_infos", "tree_sizes"}
_NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_FEATURE_INFO = re.compile(rf"none|\[{_NUMBER}:{_NUMBER}\]|-?[0-9]+(?::-?[0-9]+)*")
_NUMBERS = re.compile(rf"{_NUMBER}(?: {_NUMBER})*")
_INTS = re.compile(r"-?[0-9]+(?: -?[0-9]+)*")
_TREE_KEYS = {"num_leaves", "num_cat", "split_feature", "split_gain", "threshold", "decision_type", "left_child",
              "right_child", "leaf_value", "leaf_weight", "leaf_count", "internal_value", "internal_weight",
              "internal_count", "cat_boundaries", "cat_threshold", "is_linear", "shrinkage"}
_INT_KEYS = {"num_leaves", "num_cat", "split_feature", "decision_type", "left_child", "right_child", "leaf_count",
             "internal_count", "cat_boundaries", "cat_threshold", "is_linear"}


def _check_numbers(fields: dict[str, str]) -> None:
    """Every value parses the way LightGBM's own parser will (it aborts the process otherwise)."""
    for key, value in fields.items():
        if key not in _TREE_KEYS:
            raise ValueError(f"unknown key {key!r}")
        if value == "" and key not in ("num_cat",):
            continue  # a one-leaf tree writes some arrays empty
        pattern = _INTS if key in _INT_KEYS else _NUMBERS
        if not pattern.fullmatch(value):
            raise ValueError(f"{key} is not a list of numbers")
    if fields.get("is_linear", "0") != "0":
        raise ValueError("linear trees are not used by arenapref")


_PARAMETER_LINE = re.compile(r"\[[a-z0-9_]+: [^\[\]\n]*\]")
_IMPORTANCE_LINE = re.compile(r"[^=\n]+=[0-9]+")


def _check_tail(tail: str, bad: Any) -> None:
    """After the trees LightGBM writes importances, the training parameters and (from Python) the
    pandas categories; its parser reads them with fixed expectations, so they are checked line by line."""
    body, sep, after = tail.partition("\nparameters:\n")
    params, sep2, rest = after.partition("\nend of parameters\n")
    if not sep or not sep2:
        raise bad("truncated: no parameters section")
    importances = body.strip().splitlines()
    if importances[:1] != ["feature_importances:"] or not all(_IMPORTANCE_LINE.fullmatch(x) for x in importances[1:]):
        raise bad("malformed feature_importances")
    lines = [x for x in params.split("\n") if x]
    if not lines or not all(_PARAMETER_LINE.fullmatch(x) for x in lines):
        raise bad("malformed parameters")
    rest = rest.strip("\n")
    if not rest.startswith("pandas_categorical:") or "\n" in rest:
        raise bad("malformed pandas_categorical line")
    try:
        json.loads(rest.removeprefix("pandas_categorical:"))
    except (json.JSONDecodeError, RecursionError):
        raise bad("malformed pandas_categorical line") from None


def _check_tree(fields: dict[str, str], n_features: int) -> None:
    leaves = int(fields["num_leaves"])
    if leaves < 1:
        raise ValueError("num_leaves < 1")
    for key in ("leaf_value", "leaf_weight", "leaf_count"):
        if key in fields and len(fields[key].split()) != (leaves if key == "leaf_value" or leaves > 1 else 0) \
                and not (leaves == 1 and key != "leaf_value"):
            raise ValueError(f"{key} has the wrong length")
    if leaves == 1:
        return
    inner = leaves - 1
    features = _ints(fields["split_feature"])
    for key in ("split_gain", "threshold", "internal_value", "internal_weight", "internal_count"):
        if key in fields and len(fields[key].split()) != inner:
            raise ValueError(f"{key} has the wrong length")
    decision = _ints(fields["decision_type"])
    left, right = _ints(fields["left_child"]), _ints(fields["right_child"])
    if not (len(features) == len(decision) == len(left) == len(right) == inner):
        raise ValueError("split arrays have the wrong length")
    if any(f < 0 or f >= n_features for f in features):
        raise ValueError("split_feature out of range")
    # a proper binary tree: every node but the root is the child of exactly one earlier node, and
    # every leaf is reached once (LightGBM would loop forever, or read out of bounds, otherwise)
    seen_nodes, seen_leaves = {0}, set()
    for parent, pair in enumerate(zip(left, right)):
        for child in pair:
            if child >= 0:
                if child >= inner or child <= parent or child in seen_nodes:
                    raise ValueError("child index out of range or repeated")
                seen_nodes.add(child)
            else:
                leaf = ~child
                if leaf >= leaves or leaf in seen_leaves:
                    raise ValueError("leaf index out of range or repeated")
                seen_leaves.add(leaf)
    if len(seen_nodes) != inner or len(seen_leaves) != leaves:
        raise ValueError("nodes or leaves not reached")
    n_cat = int(fields.get("num_cat", "0"))
    if n_cat < 0:
        raise ValueError("num_cat < 0")
    if n_cat:
        boundaries = _ints(fields["cat_boundaries"])
        thresholds = _ints(fields["cat_threshold"])
        if len(boundaries) != n_cat + 1 or boundaries[0] != 0 or boundaries[-1] != len(thresholds) \
                or any(b > c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError("categorical split arrays are inconsistent")
        for d, thr in zip(decision, _floats(fields["threshold"])):
            if d & 1 and not 0 <= int(thr) < n_cat:
                raise ValueError("categorical threshold out of range")
