"""MT-Bench leaderboard from arenapref's predictions vs the Bradley–Terry ranking of the human votes.

The six models' answers are recovered from ../shared/data/mt-bench-human (80 questions, turn 1 and the
two-turn conversation as separate prompts), every pair of models on every prompt is judged by a run
trained on the arena rows only, and the leaderboard (with and without style control) is compared with a
Davidson–BT fit of the 2,558 expert votes: Kendall's tau and Spearman's rho over the 6 models. Baseline:
"the longer answer wins" on the same pairs, rated the same way.

    python bench/leaderboard_mtbench.py --run RUN [--data ../shared/data] [--bootstrap 200]
    python bench/leaderboard_mtbench.py --train-to runs/arena-gbdt   # trains the judge first (cpu-default)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

import arenapref  # noqa: E402
from arenapref.data.locate import find_arena_dir, train_files  # noqa: E402
from arenapref.ranking.bt import fit_bt  # noqa: E402
from arenapref.ranking.leaderboard import ScoredPairs, build_pairs, compute_leaderboard, score_pairs  # noqa: E402


def mt_bench_answers(votes: pd.DataFrame) -> pd.DataFrame:
    """One answer per (prompt, model): turn 1 alone, and the two-turn conversation, as two prompts."""
    records: dict[tuple[str, str], dict] = {}
    for r in votes.itertuples(index=False):
        pid = f"q{r.question_id}-t{r.turn}"
        for model, response in ((r.model_a, r.response_a), (r.model_b, r.response_b)):
            if not isinstance(model, str):
                continue  # one vote has no model name
            # a few (question, model) keys carry two versions of an answer: keep the first seen
            records.setdefault((pid, model), {"prompt_id": pid, "prompt": list(r.prompt), "model": model,
                                              "response": list(response)})
    return pd.DataFrame(list(records.values()))


def human_ratings(votes: pd.DataFrame, models: list[str]) -> np.ndarray:
    """Davidson–BT strengths from the expert votes (ties count as ties)."""
    # 17 turn-1 votes compare a model's answer with itself (same text): they say nothing about the ranking
    votes = votes[votes["model_a"].isin(models) & votes["model_b"].isin(models) & (votes["model_a"] != votes["model_b"])]
    index = {m: i for i, m in enumerate(models)}
    outcomes = votes[["winner_model_a", "winner_model_b", "winner_tie"]].to_numpy(dtype=float)
    fit = fit_bt(votes["model_a"].map(index).to_numpy(), votes["model_b"].map(index).to_numpy(), outcomes,
                 len(models))
    return fit.elo()


def longer_wins(pairs: pd.DataFrame) -> ScoredPairs:
    """The length baseline as a judge: the longer answer (characters over all turns) wins, equal is a tie."""
    la = np.array([sum(map(len, r)) for r in pairs["response_a"]])
    lb = np.array([sum(map(len, r)) for r in pairs["response_b"]])
    proba = np.zeros((len(pairs), 3))
    proba[la > lb, 0], proba[la < lb, 1], proba[la == lb, 2] = 1, 1, 1
    return ScoredPairs(pairs, proba, None, None)


def train_judge(out: Path) -> Path:
    from arenapref.config import load_config
    from arenapref.training import train_run

    arena = find_arena_dir()
    if arena is None:
        raise SystemExit("arena data not found")
    config = load_config("cpu-default", {})
    train_run([str(p) for p in train_files(arena)], config, out, progress=False)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="judge run directory (trained on arena rows only)")
    parser.add_argument("--train-to", help="train a cpu-default judge on the arena rows into this folder first")
    parser.add_argument("--data", default=None, help="shared data folder (default: found like the tests do)")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args()
    arena = find_arena_dir(args.data)
    if arena is None:
        raise SystemExit("shared data not found: pass --data")
    votes = pd.read_json(arena.parent / "mt-bench-human" / "mt_bench_human.jsonl", lines=True)
    run = Path(args.run) if args.run else train_judge(Path(args.train_to)) if args.train_to else None
    if run is None:
        raise SystemExit("pass --run RUN or --train-to DIR")
    judge = arenapref.load(run)
    answers = mt_bench_answers(votes)
    pairs = build_pairs(answers)
    models = sorted(answers["model"].unique())
    human = human_ratings(votes, models)
    started = time.perf_counter()
    scored = score_pairs(judge, pairs, log=lambda m: print(m, file=sys.stderr))
    judged_s = time.perf_counter() - started
    rows = []

    def compare(name: str, board_rows: list[dict]) -> dict:
        rating = {r["model"]: r["rating"] for r in board_rows}
        ours = np.array([rating[m] for m in models])
        tau, rho = kendalltau(ours, human).statistic, spearmanr(ours, human).statistic
        order = " > ".join(r["model"] for r in board_rows)
        return {"method": name, "kendall_tau": float(tau), "spearman_rho": float(rho), "order": order,
                "discordant_pairs": int(round((1 - tau) / 2 * 15))}

    boards = {}
    for style in (False, True):
        board = compute_leaderboard(scored, style_control=style, n_boot=args.bootstrap, seed=0)
        boards[style] = board
        rows.append(compare(f"arenapref ({judge.info.get('model')}){' + style control' if style else ''}",
                            board.rows))
    length = longer_wins(pairs)
    for style in (False, True):
        rows.append(compare(f"longer answer wins{' + style control' if style else ''}",
                            compute_leaderboard(length, style_control=style, n_boot=0).rows))
    order_h = " > ".join(m for _, m in sorted(zip(-human, models)))
    print(f"# MT-Bench human leaderboard vs arenapref ({len(answers)} answers, {len(pairs)} judged pairs, "
          f"{votes.shape[0]} human votes; {machine()})")
    print(f"human BT order: {order_h}")
    print(f"judge: {run} ({judge.info.get('model')}), judged {len(pairs)} pairs x3 (TTA + both orders) in "
          f"{judged_s:.1f} s on a shared, loaded machine")
    print()
    print("| method | Kendall tau | Spearman rho | pairs out of order (of 15) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['kendall_tau']:.3f} | {r['spearman_rho']:.3f} | {r['discordant_pairs']} |")
    print()
    for r in rows:
        print(f"{r['method']}: {r['order']}")
    board = boards[False]
    c = board.summary["consistency"]
    print(f"\nconsistency without TTA: flip rate {c['flip_rate']:.1%}, first-position advantage "
          f"{c['mean_first_position_advantage']:+.4f}, first shown preferred {c['first_shown_preferred']:.1%}")
    print("\n| model | human BT | arenapref | 95% CI | style-controlled | 95% CI | mean chars |")
    print("|---|---|---|---|---|---|---|")
    sc = {r["model"]: r for r in boards[True].rows}
    for r in board.rows:
        s = sc[r["model"]]
        print(f"| {r['model']} | {human[models.index(r['model'])]:.0f} | {r['rating']:.0f} | "
              f"[{r['ci_low']:.0f}, {r['ci_high']:.0f}] | {s['rating']:.0f} | [{s['ci_low']:.0f}, {s['ci_high']:.0f}] | "
              f"{r['mean_chars']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "human": dict(zip(models, human.tolist())),
                                               "leaderboard": board.to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
