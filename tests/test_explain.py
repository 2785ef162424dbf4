"""Explanations of gbdt verdicts: plain words, swap-consistent, tied to the score; other runs say they cannot."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from support.browser import HAVE_CHROMIUM, SKIP_REASON, headless_chromium, served

import arenapref
from arenapref.api import Judge
from arenapref.cli import main
from arenapref.config import load_config
from arenapref.data.readers import write_pairs
from arenapref.data.schema import swap_pairs
from arenapref.explain import aspect_of, describe, explain, explain_pair
from arenapref.serve.app import create_app
from arenapref.training import train_run


@pytest.fixture(scope="module")
def gbdt_run(arena_pairs: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real gbdt run (hand-made + TF-IDF features) on 240 arena rows."""
    root = tmp_path_factory.mktemp("gbdt_explain")
    data = root / "train.jsonl"
    write_pairs(arena_pairs.iloc[:240], data)
    config = load_config(None, {"model": {"type": "gbdt", "params": {
        "n_estimators": 60, "tfidf": {"max_features": 2000, "svd_components": 4}}}, "cv": {"n_folds": 2}})
    return train_run([data], config, root / "run", progress=False, log=lambda *a: None).run_dir


@pytest.fixture(scope="module")
def gbdt_judge(gbdt_run: Path) -> Judge:
    return arenapref.load(gbdt_run)


def _mirror_text(text: str) -> str:
    return re.sub(r"\b[AB]\b", lambda m: "B" if m.group() == "A" else "A", text)


def test_explanations_mirror_exactly_when_a_and_b_are_swapped(gbdt_judge: Judge, arena_pairs: pd.DataFrame) -> None:
    pairs = arena_pairs.iloc[500:540].reset_index(drop=True)
    direct = explain(gbdt_judge.model, pairs)
    swapped = explain(gbdt_judge.model, swap_pairs(pairs))
    assert len(direct) == len(swapped) == len(pairs)
    for e, s in zip(direct, swapped):
        assert e.available and 1 <= len(e.reasons) <= 5
        assert s.margin == pytest.approx(-e.margin, abs=1e-12)
        assert [r.aspect for r in e.reasons] == [r.aspect for r in s.reasons]
        for r, m in zip(e.reasons, s.reasons):
            assert m.weight == pytest.approx(-r.weight, abs=1e-12) and {r.favours, m.favours} == {"A", "B"}
            assert _mirror_text(r.text) == m.text     # the same sentence with A and B exchanged
        weights = [abs(r.weight) for r in e.reasons]
        assert weights == sorted(weights, reverse=True)


def test_reasons_add_up_to_the_verdict(gbdt_judge: Judge, arena_pairs: pd.DataFrame) -> None:
    pairs = arena_pairs.iloc[600:660].reset_index(drop=True)
    proba = gbdt_judge.predict_pairs(pairs, swap_tta=True)
    margins = np.array([e.margin for e in explain(gbdt_judge.model, pairs)])
    # the margin is the swap-averaged log-odds of A over B; probabilities are averaged, not logits, so it
    # tracks log(p_a / p_b) closely but not exactly
    np.testing.assert_allclose(margins, np.log(proba[:, 0] / proba[:, 1]), atol=0.05)


def test_plain_words() -> None:
    row = pd.Series({"chars_a": 310.0, "chars_b": 100.0, "headers_a": 0.0, "headers_b": 4.0,
                     "list_items_a": 2.0, "list_items_b": 2.0, "refusals_a": 1.0, "refusals_b": 0.0,
                     "apologies_a": 1.0, "apologies_b": 0.0})
    assert describe("length", row, "A").startswith("A is 3.1× longer than B")
    assert describe("headers", row, "B") == "B has 4 headers, A none"
    assert describe("lists", row, "A") == "both answers have 2 list items"
    assert describe("refusal", row, "B") == "A has 2 refusal or apology phrases, B none"
    assert aspect_of("chars_diff") == aspect_of("words_rel") == "length"
    assert aspect_of("tfidf_svd_diff_3") == "wording" and aspect_of("prompt_chars") == "prompt"


def test_length_run_says_it_cannot_explain(judge: Judge) -> None:
    found = explain_pair(judge, "q", "a", "b")
    assert not found.available and not found.reasons
    assert "cannot explain" in found.message and "length" in found.message


def test_compare_cli_explain(gbdt_run: Path, length_run: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["compare", "--prompt", "What is 2+2?", "--a", "4", "--b",
            "## Answer\n\n2 + 2 = **4**, because adding two and two gives four.", "--explain"]
    assert main(["compare", "--run", str(gbdt_run), *args[1:]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["explanation"]["available"] and out["explanation"]["reasons"]
    assert {"aspect", "favours", "weight", "text"} <= set(out["explanation"]["reasons"][0])
    assert main(["compare", "--run", str(length_run), *args[1:]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["explanation"]["available"] is False and "cannot explain" in out["explanation"]["message"]
    assert main(["compare", "--run", str(length_run), *args[1:-1]]) == 0
    assert "explanation" not in json.loads(capsys.readouterr().out)


def test_v1_compare_explain(gbdt_judge: Judge, judge: Judge) -> None:
    body = {"prompt": "Capital of Australia?", "response_a": "Canberra.",
            "response_b": "# Capital\n\nThe capital of Australia is **Canberra**, chosen in 1908."}
    with TestClient(create_app(gbdt_judge)) as client:
        plain = client.post("/v1/compare", json=body).json()
        assert "explanation" not in plain
        explained = client.post("/v1/compare", json={**body, "explain": True}).json()
        assert explained["winner_model_a"] == pytest.approx(plain["winner_model_a"])
        reasons = explained["explanation"]["reasons"]
        assert reasons and all(r["favours"] in ("A", "B") and r["text"] for r in reasons)
        assert client.post("/v1/compare", json={**body, "explain": "yes please"}).status_code == 422
    with TestClient(create_app(judge)) as client:
        answer = client.post("/v1/compare", json={**body, "explain": True}).json()
        assert answer["explanation"]["available"] is False and "cannot explain" in answer["explanation"]["message"]


@pytest.mark.skipif(not HAVE_CHROMIUM, reason=SKIP_REASON)
def test_web_page_shows_the_reasons(gbdt_judge: Judge, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    from support.probe import free_port

    with served(create_app(gbdt_judge), free_port()) as url, \
            headless_chromium(tmp_path, window="1100,1200") as driver:
        driver.get(url + "/")
        driver.find_element(By.ID, "prompt").send_keys("What is the capital of Australia?")
        driver.find_element(By.ID, "response-a").send_keys("Sydney.")
        driver.find_element(By.ID, "response-b").send_keys(
            "## Answer\n\nThe capital of Australia is **Canberra**.\n\n- chosen in 1908\n- Parliament since 1927")
        driver.find_element(By.ID, "explain").click()
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 30).until(expected_conditions.visibility_of_element_located((By.ID, "why")))
        items = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "#reasons li")]
        assert items and all(re.search(r"favours [AB], [+-]\d", t) for t in items), items
        # unticked: the next verdict comes without reasons and the old ones disappear
        driver.find_element(By.ID, "explain").click()
        driver.find_element(By.ID, "submit").click()
        WebDriverWait(driver, 30).until(lambda d: not d.find_element(By.ID, "why").is_displayed())
