"""The Python API: ``arenapref.load(RUN_DIR)`` returns a :class:`~arenapref.judge.Judge`.

Kept as the stable import path for programs written against it; the code lives in
:mod:`arenapref.judge`.
"""

from arenapref.data.inputs import InputError, clean_pair, pairs_frame
from arenapref.judge import Comparison, Judge, load, release_feature_cache, run_info

__all__ = ["Comparison", "InputError", "Judge", "clean_pair", "load", "pairs_frame", "release_feature_cache",
           "run_info"]
