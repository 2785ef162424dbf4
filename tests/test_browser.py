"""The web page in headless Chromium: type a prompt and two answers, submit, read the bars and the verdict,
save a screenshot. Skipped where Chromium, chromedriver or selenium is missing.

Set ARENAPREF_SCREENSHOT_DIR to keep the screenshot (default: the test's temporary folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.browser import CHROMEDRIVER, CHROMIUM, headless_chromium, served  # noqa: E402

import arenapref

pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium + chromium-driver not installed")
webdriver = pytest.importorskip("selenium.webdriver")
uvicorn = pytest.importorskip("uvicorn")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from support.probe import free_port  # noqa: E402

from arenapref.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def base_url(length_run: Path) -> Iterator[str]:
    with served(create_app(arenapref.load(length_run)), free_port()) as url:
        yield url


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[object]:
    with headless_chromium(tmp_path) as driver:
        yield driver


def test_compare_in_the_page(browser: object, base_url: str, tmp_path: Path) -> None:
    driver = browser
    driver.get(base_url + "/")  # type: ignore[attr-defined]
    wait = WebDriverWait(driver, 30)
    wait.until(lambda d: "model: length" in d.find_element(By.ID, "model-line").text)
    driver.find_element(By.ID, "prompt").send_keys("What is the capital of Australia?")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "response-a").send_keys(  # type: ignore[attr-defined]
        "The capital of Australia is Canberra.\n\nIt was chosen in 1908 as a compromise between Sydney and "
        "Melbourne, and Parliament has met there since 1927.")
    driver.find_element(By.ID, "response-b").send_keys("Sydney.")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "submit").click()  # type: ignore[attr-defined]
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "result")))
    verdict = driver.find_element(By.ID, "verdict").text  # type: ignore[attr-defined]
    assert verdict in {"Answer A", "Answer B", "Tie"}
    percents = [float(driver.find_element(By.ID, f"pct-{k}").text.rstrip("%"))  # type: ignore[attr-defined]
                for k in ("a", "b", "tie")]
    assert sum(percents) == pytest.approx(100, abs=0.2)
    best = ("Answer A", "Answer B", "Tie")[percents.index(max(percents))]
    assert verdict == best
    width = driver.find_element(By.ID, "bar-a").get_attribute("style")  # type: ignore[attr-defined]
    assert f"{percents[0]:.1f}%" in width
    out = Path(os.environ.get("ARENAPREF_SCREENSHOT_DIR", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "web_page.png"
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000  # type: ignore[attr-defined]


def test_error_is_shown_in_the_page(browser: object, base_url: str) -> None:
    driver = browser
    driver.get(base_url + "/")  # type: ignore[attr-defined]
    # a body the service refuses: the page must say why instead of drawing stale bars
    driver.execute_script(  # type: ignore[attr-defined]
        "document.getElementById('prompt').value = 'x';"
        "document.getElementById('response-a').value = 'a'.repeat(250000);"
        "document.getElementById('response-b').value = 'b';")
    driver.find_element(By.ID, "submit").click()  # type: ignore[attr-defined]
    error = WebDriverWait(driver, 30).until(expected_conditions.visibility_of_element_located((By.ID, "error")))
    assert "response_a" in error.text and "characters" in error.text
    assert not driver.find_element(By.ID, "result").is_displayed()  # type: ignore[attr-defined]


def test_api_docs_render_offline(browser: object, base_url: str) -> None:
    driver = browser
    driver.get(base_url + "/docs")  # type: ignore[attr-defined]
    title = WebDriverWait(driver, 30).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title")))
    assert "arenapref" in title.text
    assert "/v1/compare" in driver.page_source  # type: ignore[attr-defined]
