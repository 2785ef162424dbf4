"""``arenapref data download``: fetch the public arena-human-preference-55k files from the Hugging Face hub.

Uses ``huggingface_hub`` when installed (it handles auth tokens and resumable downloads), else plain
HTTPS. Files are written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from arenapref.runs import atomic_path, refuse_existing

REPO_ID = "lmarena-ai/arena-human-preference-55k"
FILES = {"train.csv": "train.csv"}
HUB_URL = "https://huggingface.co/datasets/{repo}/resolve/main/{name}"


def _fetch(url: str, dest: Path, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(dest) as tmp:
        total = int(response.headers.get("Content-Length") or 0) or None
        with open(tmp, "wb") as out, tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            while chunk := response.read(1 << 20):
                out.write(chunk)
                bar.update(len(chunk))


def download_arena(out_dir: str | Path, *, force: bool = False, repo_id: str = REPO_ID,
                   timeout: float = 60.0) -> list[Path]:
    """Download the arena preference data into ``out_dir``; returns the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for remote, local in FILES.items():
        dest = out_dir / local
        refuse_existing(dest, force=force, what="data file")
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            _fetch(HUB_URL.format(repo=repo_id, name=remote), dest, timeout)
        else:
            cached = hf_hub_download(repo_id=repo_id, filename=remote, repo_type="dataset")
            with atomic_path(dest) as tmp:
                shutil.copyfile(cached, tmp)
        written.append(dest)
    return written
