"""Ranking N answers and leaderboards: the BT fit, bootstrap intervals, invariances, ties, CLI errors, the page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.browser import headless_chromium

from arenapref.api import Judge
from arenapref.cli import main
from arenapref.data.inputs import InputError
from arenapref.ranking import rank_answers
from arenapref.ranking.bt import ELO_SCALE, bootstrap_bt, davidson_proba, fit_bt
from arenapref.ranking.leaderboard import build_pairs, compute_leaderboard, read_answers, score_pairs

TRUE = np.array([1.0, 0.4, 0.0, -0.6])


def simulate(n_prompts: int, seed: int, *, nu: float = 0.6, per_prompt: int = 6) -> tuple[np.ndarray, ...]:
    """Hard Davidson outcomes of random pairs of 4 items, ``per_prompt`` comparisons per prompt."""
    rng = np.random.default_rng(seed)
    n = n_prompts * per_prompt
    first = rng.integers(0, 4, n)
    second = (first + rng.integers(1, 4, n)) % 4
    p = davidson_proba(TRUE[first] - TRUE[second], np.log(nu))
    outcomes = np.eye(3)[[rng.choice(3, p=row) for row in p]]
    return first, second, outcomes, np.repeat(np.arange(n_prompts), per_prompt)


def test_fit_recovers_strengths_and_the_tie_rate() -> None:
    first, second, outcomes, _ = simulate(1500, 0)
    fit = fit_bt(first, second, outcomes, 4)
    assert fit.converged
    np.testing.assert_allclose(fit.theta, TRUE - TRUE.mean(), atol=0.1)
    assert np.exp(fit.log_nu) == pytest.approx(0.6, rel=0.15)
    # soft outcomes equal to the model's own probabilities are recovered exactly (up to the tiny ridge)
    soft = davidson_proba(TRUE[first] - TRUE[second], np.log(0.6))
    exact = fit_bt(first, second, soft, 4)
    np.testing.assert_allclose(exact.theta, TRUE - TRUE.mean(), atol=2e-3)
    assert exact.elo()[0] - exact.elo()[3] == pytest.approx(ELO_SCALE * 1.6, rel=0.01)


def test_ratings_do_not_depend_on_item_order_or_on_a_b() -> None:
    first, second, outcomes, _ = simulate(200, 1)
    fit = fit_bt(first, second, outcomes, 4)
    # every comparison written the other way round (B first, outcome columns exchanged)
    flipped = fit_bt(second, first, outcomes[:, [1, 0, 2]], 4)
    np.testing.assert_allclose(flipped.theta, fit.theta, atol=1e-6)
    # the items renumbered and the comparisons shuffled
    perm = np.array([2, 0, 3, 1])
    rows = np.random.default_rng(5).permutation(len(first))
    renamed = fit_bt(perm[first][rows], perm[second][rows], outcomes[rows], 4)
    np.testing.assert_allclose(renamed.theta[perm], fit.theta, atol=1e-6)


def test_ties_all_round_mean_equal_strengths() -> None:
    first = np.array([0, 1, 2, 0])
    second = np.array([1, 2, 0, 2])
    fit = fit_bt(first, second, np.tile([0.0, 0.0, 1.0], (4, 1)), 3)
    np.testing.assert_allclose(fit.theta, 0.0, atol=1e-9)
    assert np.exp(fit.log_nu) > 50                        # P(tie) between equals nu / (2 + nu) -> 1
    # a tie is half-way between a win and a loss: A>B, B>A and one tie leave them level
    even = fit_bt(np.array([0, 1, 0]), np.array([1, 0, 1]), np.array([[1.0, 0, 0], [1, 0, 0], [0, 0, 1]]), 2)
    assert even.theta[0] == pytest.approx(even.theta[1], abs=1e-9)


def test_separation_stays_finite() -> None:
    fit = fit_bt(np.zeros(30, int), np.ones(30, int), np.tile([1.0, 0, 0], (30, 1)), 2)
    assert np.isfinite(fit.theta).all() and fit.theta[0] > 2


def test_bootstrap_intervals_shrink_as_prompts_are_added() -> None:
    widths = []
    for n_prompts in (25, 100, 400):
        first, second, outcomes, groups = simulate(n_prompts, 2)
        boot = bootstrap_bt(first, second, outcomes, 4, groups, n_boot=40, seed=0)
        assert (boot.low <= boot.high).all()
        widths.append(float(np.mean(boot.high - boot.low)))
    assert widths[0] > 1.4 * widths[1] > 1.4 * 1.4 * widths[2], widths
    # the same seed gives the same intervals
    again = bootstrap_bt(first, second, outcomes, 4, groups, n_boot=40, seed=0)
    np.testing.assert_array_equal(again.low, boot.low)


def test_style_covariate_absorbs_what_it_explains() -> None:
    """Item 0 wins only because it is longer: with the covariate in the regression its edge disappears."""
    rng = np.random.default_rng(3)
    n = 4000
    first = rng.integers(0, 3, n)
    second = (first + rng.integers(1, 3, n)) % 3
    length = np.array([2.0, 0.0, 0.0])                      # per-item "length", no real quality difference
    x = (length[first] - length[second])[:, None] + rng.normal(0, 0.5, (n, 1))
    p = davidson_proba(0.8 * x[:, 0], np.log(0.5))
    outcomes = np.eye(3)[[rng.choice(3, p=row) for row in p]]
    plain = fit_bt(first, second, outcomes, 3)
    controlled = fit_bt(first, second, outcomes, 3, covariates=x)
    assert plain.theta[0] - plain.theta[1] > 1.0
    assert abs(controlled.theta[0] - controlled.theta[1]) < 0.15
    assert controlled.beta[0] == pytest.approx(0.8, abs=0.1)


# --- rank N answers --------------------------------------------------------------------------------

ANSWERS = ["Canberra.",
           "The capital of Australia is Canberra. It was chosen in 1908 as a compromise between Sydney and "
           "Melbourne, and Parliament has sat there since 1927.",
           "Sydney",
           "The capital is Canberra, in the Australian Capital Territory.\n\n- founded 1913\n- population ~450k"]


def test_rank_answers_is_consistent_with_the_pairwise_verdicts(judge: Judge) -> None:
    result = rank_answers(judge, "What is the capital of Australia?", ANSWERS)
    n = len(ANSWERS)
    assert sorted(result.order) == list(range(n)) and result.best == result.order[0]
    assert np.mean(result.ratings) == pytest.approx(1000)
    assert all(0 < w < 1 for w in result.expected_win)
    # the pairwise matrix mirrors: (i, j) is (j, i) with A and B exchanged
    pw = np.array(result.pairwise)
    np.testing.assert_allclose(pw[0, 1], pw[1, 0][[1, 0, 2]])
    # the best answer beats every other one on the judge's own swap-averaged probabilities
    best = result.best
    assert all(pw[best, j, 0] >= pw[best, j, 1] for j in range(n) if j != best)
    payload = json.loads(json.dumps(result.to_dict()))    # plain JSON: no NaN on the diagonal
    assert payload["best"] == best and payload["pairwise"][0][0] is None


def test_rank_is_invariant_to_the_order_of_answers(judge: Judge) -> None:
    result = rank_answers(judge, "What is the capital of Australia?", ANSWERS)
    perm = [2, 0, 3, 1]
    shuffled = rank_answers(judge, "What is the capital of Australia?", [ANSWERS[i] for i in perm])
    np.testing.assert_allclose(np.array(shuffled.strengths), np.array(result.strengths)[perm], atol=1e-6)
    assert perm[shuffled.best] == result.best


def test_identical_answers_tie(judge: Judge) -> None:
    result = rank_answers(judge, "Say hi", ["Hello there!", "Hello there!", "Go away."])
    assert result.strengths[0] == pytest.approx(result.strengths[1], abs=1e-9)


def test_rank_answers_errors(judge: Judge) -> None:
    with pytest.raises(InputError, match="at least 2"):
        rank_answers(judge, "q", ["only one"])
    with pytest.raises(InputError, match=r"answers\[1\]"):
        rank_answers(judge, "q", ["fine", 42, "fine too"])


def test_rank_cli(length_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["rank", "--run", str(length_run), "--prompt", "2+2?", "--answer", "4", "--answer",
                 "It is 4, because two plus two makes four.", "--answer", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["answers"]) == 3 and out["best"] in (0, 1, 2)
    spec = tmp_path / "conv.json"
    spec.write_text(json.dumps({"prompt": ["Hi", "And 2+2?"], "answers": [["Hello", "4"], ["Hey!", "Four."]]}))
    assert main(["rank", "--run", str(length_run), "--input", str(spec)]) == 0
    assert len(json.loads(capsys.readouterr().out)["order"]) == 2
    assert main(["rank", "--run", str(length_run), "--prompt", "x", "--answer", "only"]) == 2
    assert "at least 2 --answer" in capsys.readouterr().err
    spec.write_text(json.dumps({"prompt": ["Hi", "And?"], "answers": [["Hello", "4"], ["one turn"]]}))
    assert main(["rank", "--run", str(length_run), "--input", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "answers[1]" in err and "turn" in err
    assert main(["rank", "--run", str(tmp_path / "nope"), "--prompt", "x", "--answer", "a", "--answer", "b"]) == 2


# --- leaderboards ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def answers_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real MT-Bench answers of 4 models to 24 questions (turn 1), written to a temporary JSONL file."""
    votes = pd.read_json(shared_data / "mt-bench-human" / "mt_bench_human.jsonl", lines=True)
    keep = ["gpt-4", "claude-v1", "alpaca-13b", "llama-13b"]
    records: dict[tuple, dict] = {}
    for r in votes[votes["turn"] == 1].itertuples(index=False):
        for model, resp in ((r.model_a, r.response_a), (r.model_b, r.response_b)):
            if model in keep:
                records.setdefault((r.question_id, model), {"prompt_id": int(r.question_id), "prompt": r.prompt[0],
                                                            "model": model, "response": resp})
    complete = pd.Series([q for q, _ in records]).value_counts()
    questions = sorted(complete[complete == len(keep)].index)[:24]  # answered by all four
    lines = [json.dumps(v) for (q, _), v in sorted(records.items()) if q in questions]
    path = tmp_path_factory.mktemp("lb") / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_leaderboard_is_invariant_to_line_order_and_model_names_order(judge: Judge, answers_file: Path,
                                                                      tmp_path: Path) -> None:
    answers = read_answers(answers_file)
    board = compute_leaderboard(score_pairs(judge, build_pairs(answers), log=lambda m: None), n_boot=20)
    lines = answers_file.read_text(encoding="utf-8").splitlines()
    shuffled = tmp_path / "shuffled.jsonl"
    shuffled.write_text("\n".join(lines[i] for i in np.random.default_rng(0).permutation(len(lines))) + "\n")
    other = compute_leaderboard(score_pairs(judge, build_pairs(read_answers(shuffled)), log=lambda m: None),
                                n_boot=20)
    assert [r["model"] for r in other.rows] == [r["model"] for r in board.rows]
    for a, b in zip(board.rows, other.rows):
        assert a["rating"] == pytest.approx(b["rating"], abs=1e-6)
        assert a["ci_low"] == pytest.approx(b["ci_low"], abs=1e-6)
    assert np.mean([r["rating"] for r in board.rows]) == pytest.approx(1000)
    assert board.summary["n_pairs"] == 24 * 6
    c = board.summary["consistency"]
    assert 0 <= c["flip_rate"] <= 1 and 0 <= c["first_shown_preferred"] <= 1
    # the judge's A/B order cannot matter: every pair written the other way round gives the same ratings
    pairs = build_pairs(answers)
    reversed_pairs = pairs.rename(columns={"model_a": "model_b", "model_b": "model_a",
                                           "response_a": "response_b", "response_b": "response_a"})
    back = compute_leaderboard(score_pairs(judge, reversed_pairs, log=lambda m: None), n_boot=20,
                               style_control=True)
    ahead = compute_leaderboard(score_pairs(judge, pairs, log=lambda m: None), n_boot=20, style_control=True)
    for a, b in zip(ahead.rows, back.rows):
        assert a["model"] == b["model"] and a["rating"] == pytest.approx(b["rating"], abs=1e-6)


def test_leaderboard_cli_writes_every_file_and_refuses_to_overwrite(length_run: Path, answers_file: Path,
                                                                    tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "board"
    args = ["leaderboard", "--run", str(length_run), "--input", str(answers_file), "--out", str(out),
            "--baseline", "claude-v1", "--style-control", "--bootstrap", "30"]
    assert main(args) == 0
    data = json.loads((out / "leaderboard.json").read_text())
    rows = {r["model"]: r for r in data["models"]}
    assert rows["claude-v1"]["rating"] == pytest.approx(1000) and data["baseline"] == "claude-v1"
    assert set(data["style_coefficients"]) == {"length", "headers", "list items", "bold spans"}
    assert all("rating_raw" in r and r["ci_low"] <= r["rating"] + 1e-6 <= r["ci_high"] + 2e-6
               for r in data["models"] if r["model"] != "claude-v1")
    table = pd.read_csv(out / "leaderboard.csv")
    assert list(table["model"]) == [r["model"] for r in data["models"]]
    assert len(pd.read_csv(out / "pairs.csv")) == 24 * 3      # each of 3 models against the baseline
    page = (out / "leaderboard.html").read_text()
    assert "<svg" in page and "<script" not in page and "http" not in page.split("<svg", 1)[1].split("xmlns", 1)[0]
    before = page
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "leaderboard.html").read_text() == before
    assert main(args + ["--force"]) == 0


@pytest.mark.parametrize(("line", "expected"), [
    ('{"prompt_id": 1, "prompt": "q", "model": "m1", "response": "a"}\nnot json', "line 2: not valid JSON"),
    ('{"prompt_id": 1, "prompt": "q", "response": "a"}', "line 1, field 'model': missing key"),
    ('{"prompt_id": 1, "prompt": ["q", "q2"], "model": "m1", "response": ["a"]}', "field 'response'"),
    ('{"prompt_id": 1, "prompt": "q", "model": "m1", "response": 5}', "line 1, field 'response'"),
    ('{"prompt_id": null, "prompt": "q", "model": "m1", "response": "a"}', "field 'prompt_id'"),
    ('{"prompt_id": 1, "prompt": "q", "model": "m1", "response": "a"}\n'
     '{"prompt_id": 1, "prompt": "q", "model": "m1", "response": "b"}', "already answered prompt '1' on line 1"),
    ('{"prompt_id": 1, "prompt": "q", "model": "m1", "response": "a"}\n'
     '{"prompt_id": 1, "prompt": "other", "model": "m2", "response": "b"}', "line 2, field 'prompt'"),
    ('{"prompt_id": 1, "prompt": "q", "model": "m1", "response": "a"}', "at least 2 models"),
])
def test_leaderboard_cli_bad_input_lines(length_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                         line: str, expected: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["leaderboard", "--run", str(length_run), "--input", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1, err
    if "models" not in expected:
        assert str(bad) in err
    assert not out.exists()


def test_leaderboard_cli_unknown_baseline(length_run: Path, answers_file: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    assert main(["leaderboard", "--run", str(length_run), "--input", str(answers_file), "--out",
                 str(tmp_path / "o"), "--baseline", "gpt-5"]) == 2
    assert "--baseline 'gpt-5' is not one of the models" in capsys.readouterr().err


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[object]:
    with headless_chromium(tmp_path) as driver:
        yield driver


def test_leaderboard_page_in_headless_chromium(browser: object, length_run: Path, answers_file: Path,
                                               tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    out = tmp_path / "board"
    assert main(["leaderboard", "--run", str(length_run), "--input", str(answers_file), "--out", str(out),
                 "--bootstrap", "20"]) == 0
    data = json.loads((out / "leaderboard.json").read_text())
    driver = browser
    driver.get((out / "leaderboard.html").resolve().as_uri())  # type: ignore[attr-defined]
    groups = driver.find_elements(By.CSS_SELECTOR, "#ratings-plot g.model")  # type: ignore[attr-defined]
    assert [g.get_attribute("data-model") for g in groups] == [r["model"] for r in data["models"]]
    # dots are drawn left to right in rating order (best on top, rightmost)
    xs = [float(g.find_element(By.CSS_SELECTOR, "circle.rating").get_attribute("cx")) for g in groups]
    assert xs == sorted(xs, reverse=True)
    plot = driver.find_element(By.ID, "ratings-plot")  # type: ignore[attr-defined]
    assert plot.size["width"] > 500 and plot.size["height"] > 100
    for g in groups:                                # each interval is a visible line around its dot
        ci = g.find_element(By.CSS_SELECTOR, "line.ci")
        assert float(ci.get_attribute("x1")) <= float(g.find_element(By.CSS_SELECTOR, "circle.rating")
                                                       .get_attribute("cx")) <= float(ci.get_attribute("x2"))
        width = driver.execute_script("return arguments[0].getBoundingClientRect().width", ci)  # type: ignore
        assert width > 2
    rows = driver.find_elements(By.CSS_SELECTOR, "#leaderboard tr")  # type: ignore[attr-defined]
    assert len(rows) == 1 + len(data["models"])
    assert "flips on" in driver.find_element(By.ID, "consistency").text  # type: ignore[attr-defined]
    shot = tmp_path / "leaderboard.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000  # type: ignore[attr-defined]
