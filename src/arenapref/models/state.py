"""Reading a saved model's files defensively: every value is checked before it is used, and the
LightGBM text model is checked for structure before LightGBM's native parser sees it (a damaged
model file can crash that parser instead of raising).

The run manifest (``runs.verify_run``) already refuses files whose bytes changed; these checks are
the second line, for a run whose manifest was rewritten along with its files.
"""

from __future__ import annotations

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
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
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
    trees_text = rest.split("end of trees", 1)[0]
    blocks = ("Tree=" + trees_text).split("\n\n")
    n_trees = 0
    for block in blocks:
        block = block.strip()
        if not block:
            continue
        if not block.startswith("Tree="):
            raise bad("unexpected text between trees")
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        try:
            _check_tree(fields, n_features)
        except (KeyError, ValueError) as err:
            raise bad(f"tree {n_trees}: {err}") from None
        n_trees += 1
    if n_trees == 0 or n_trees % num_class:
        raise bad(f"{n_trees} trees is not a multiple of {num_class}")


def _check_tree(fields: dict[str, str], n_features: int) -> None:
    leaves = int(fields["num_leaves"])
    if leaves < 1:
        raise ValueError("num_leaves < 1")
    if len(_floats(fields["leaf_value"])) != leaves:
        raise ValueError("leaf_value has the wrong length")
    if leaves == 1:
        return
    inner = leaves - 1
    features = _ints(fields["split_feature"])
    for key in ("split_gain", "threshold", "internal_value"):
        if key in fields and len(_floats(fields[key])) != inner:
            raise ValueError(f"{key} has the wrong length")
    decision = _ints(fields["decision_type"])
    left, right = _ints(fields["left_child"]), _ints(fields["right_child"])
    if not (len(features) == len(decision) == len(left) == len(right) == inner):
        raise ValueError("split arrays have the wrong length")
    if any(f < 0 or f >= n_features for f in features):
        raise ValueError("split_feature out of range")
    for child in left + right:
        if child >= inner or child < -leaves:
            raise ValueError("child index out of range")
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
