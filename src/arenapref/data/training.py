"""The training data of a recipe: the files named on the command line plus the recipe's ``data.extra``.

:func:`resolve_recipe_data` turns each ``public:NAME`` entry of ``data.extra`` into its cached canonical
file (found beside the arena data, see :mod:`arenapref.data.public`) and, when the recipe's GBDT uses
the source as a feature with ``arena`` as the target domain, gives the arena rows that source.
:func:`read_training_data` reads and stacks files, refusing unlabelled rows.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from arenapref.data import public
from arenapref.data.readers import concat_pairs, load_pairs, summarize_bad_rows
from arenapref.data.schema import has_labels


def resolve_recipe_data(config: dict[str, Any], files: Sequence[str | Path], shared_dir: Path | None, *,
                        log: Callable[[str], None] = print) -> tuple[dict[str, Any], list[Path]]:
    """The recipe with its ``public:`` extras resolved under ``shared_dir`` (the folder that holds the
    arena folder and the public sets' folders), and the training files to read (the arena rows as one
    cached file with ``source = arena`` when the recipe names that source as its target domain)."""
    config = copy.deepcopy(config)
    paths = [Path(f) for f in files]
    entries = list(config.get("data", {}).get("extra") or [])
    if entries:
        cap = config["data"].get("extra_max_rows")
        config["data"]["extra"] = public.resolve_extra(entries, shared_dir, max_rows=cap and int(cap),
                                                       seed=int(config.get("seed", 42)), log=log)
    params = config.get("model", {}).get("params") or {}
    if params.get("source_feature") == public.ARENA_SOURCE:
        paths = [public.arena_canonical(paths, log=log)]
    return config, paths


def read_training_data(paths: Sequence[str | Path], config: dict[str, Any], *, fmt: str | None = None,
                       log: Any = print) -> pd.DataFrame:
    """Read and stack every training file; unlabelled rows are an error for training."""
    frames = []
    data_cfg = config.get("data", {})
    for path in paths:
        frame, bad = load_pairs(path, fmt=fmt, on_bad_row=data_cfg.get("on_bad_row", "error"),
                                allow_soft_labels=bool(data_cfg.get("allow_soft_labels", False)))
        if bad:
            log(f"{path}: {summarize_bad_rows(bad)}")
        unlabelled = ~has_labels(frame)
        if unlabelled.any():
            first = frame.loc[unlabelled, "id"].iloc[0]
            raise ValueError(f"{path}: {int(unlabelled.sum())} rows have no label (first: id {first}); "
                             f"training needs winner_model_a / winner_model_b / winner_tie")
        frames.append(frame)
    return concat_pairs(frames, what=" + ".join(str(p) for p in paths))
