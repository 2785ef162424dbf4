"""What a resumable scoring job is bound to: the run's fingerprint, the prediction settings, the version.

``arenapref batch`` writes these next to ``OUTPUT.partial`` (``OUTPUT.partial.json``) and the Ray engine
into its output folder; ``--resume`` compares them with the current job and refuses when any differs,
because appending rows of another model (or of the same model without swap TTA) to a half-done output
gives a file whose rows silently disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from arenapref.data.validation import DataError

SETTINGS_KIND = "arenapref-scoring-job"
# keys whose change would make resumed rows differ from a clean run's rows
BINDING_KEYS = ("run_fingerprint", "swap_tta", "arenapref_version")


def job_settings(judge: Any, **extra: Any) -> dict[str, Any]:
    """The settings of a job that scores with ``judge`` (a loaded run); ``extra`` adds job-specific ones."""
    from arenapref.runs import run_fingerprint
    from arenapref.version import __version__

    if judge.run_dir is None:
        raise ValueError("a resumable job needs a judge loaded from a run directory (arenapref.load)")
    return {"kind": SETTINGS_KIND, "run_fingerprint": run_fingerprint(judge.run_dir),
            "run_dir": str(Path(judge.run_dir).resolve()), "swap_tta": bool(judge.swap_tta),
            "arenapref_version": __version__, **extra}


def read_settings(path: Path, *, what: str) -> dict[str, Any]:
    """The settings saved beside ``what``; an absent or damaged file is refused (resuming blind could mix)."""
    if not path.is_file():
        raise DataError(path, f"missing: cannot tell which run and settings {what} was made with "
                        "(written by an older arenapref?); use --force to start over")
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise DataError(path, "damaged (not valid JSON); use --force to start over") from None
    if not isinstance(saved, dict) or saved.get("kind") != SETTINGS_KIND:
        raise DataError(path, "not a settings file arenapref wrote; use --force to start over")
    return saved


def check_same(saved: dict[str, Any], current: dict[str, Any], *, path: Path,
               keys: tuple[str, ...] = BINDING_KEYS) -> None:
    """Raise one line naming every setting that differs between the saved job and this one."""
    labels = {"run_fingerprint": "run (fingerprint)", "swap_tta": "swap_tta", "arenapref_version": "arenapref version"}
    diffs = []
    for key in keys:
        if saved.get(key) != current.get(key):
            label = labels.get(key, key)
            if key == "run_fingerprint" and saved.get("run_dir") != current.get("run_dir"):
                shown = f"{saved.get('run_dir')} [{saved.get(key)}] vs now {current.get('run_dir')} [{current.get(key)}]"
            else:
                shown = f"{saved.get(key)!r} vs now {current.get(key)!r}"
            diffs.append(f"{label}: {shown}")
    if diffs:
        raise ValueError(f"{path}: cannot resume: the partial output was made with other settings ("
                         + "; ".join(diffs) + "); rerun with the same settings, or use --force to start over")
