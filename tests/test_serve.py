"""The HTTP service: endpoints, limits (413/422 naming the field), micro-batching, no text in logs, and a
real uvicorn process on a free loopback port."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.api import Judge

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402
from support.probe import children, free_port, wait_until_healthy  # noqa: E402

from arenapref.serve.app import STATIC, create_app  # noqa: E402
from arenapref.serve.settings import Limits  # noqa: E402

SECRET = "zebra-quartz-7731"  # a marker that must never show up in any log




@pytest.fixture(scope="module")
def client(judge: Judge) -> Iterator[TestClient]:
    limits = Limits(max_body_bytes=256 * 1024, max_turns=8, max_chars=50_000, max_items=16)
    with TestClient(create_app(judge, limits=limits)) as test_client:
        yield test_client


def locs(response: httpx.Response) -> list[list]:
    return [d["loc"] for d in response.json()["detail"]]


def test_compare_matches_the_python_api(client: TestClient, judge: Judge, arena_pairs: pd.DataFrame) -> None:
    for row in arena_pairs.iloc[[0, 5, 17]].itertuples():
        body = {"prompt": row.prompt, "response_a": row.response_a, "response_b": row.response_b}
        response = client.post("/v1/compare", json=body)
        assert response.status_code == 200, response.text
        got = response.json()
        expected = judge.compare(row.prompt, row.response_a, row.response_b)
        assert got["winner_model_a"] == pytest.approx(expected.p_a)
        assert got["winner_tie"] == pytest.approx(expected.p_tie)
        assert got["verdict"] == expected.verdict


def test_compare_accepts_strings_multi_turn_and_null_turns(client: TestClient) -> None:
    ok = client.post("/v1/compare", json={"prompt": "Hi", "response_a": "Hello", "response_b": "Hey"})
    assert ok.status_code == 200
    multi = client.post("/v1/compare", json={"prompt": ["Hi", "More?"], "response_a": ["Hello", None],
                                             "response_b": ["Hey", "Sure, here is more."]})
    assert multi.status_code == 200
    assert sum(multi.json()[k] for k in ("winner_model_a", "winner_model_b", "winner_tie")) == pytest.approx(1)


@pytest.mark.parametrize(("body", "field"), [
    ({"prompt": 3, "response_a": "a", "response_b": "b"}, "prompt"),
    ({"prompt": "p", "response_a": ["a", 5], "response_b": "b"}, "response_a"),
    ({"prompt": "p", "response_a": "a"}, "response_b"),
    ({"prompt": "p", "response_a": "a", "response_b": "b", "temperature": 0.2}, "temperature"),
    ({"prompt": ["p"] * 9, "response_a": ["a"] * 9, "response_b": ["b"] * 9}, "prompt"),
    ({"prompt": "p", "response_a": ["a" * 30_000, "a" * 30_000], "response_b": ["b", "b"]}, "response_a"),
    ({"prompt": ["p", "q"], "response_a": ["a", "b"], "response_b": ["b"]}, "response_b"),
    ({"prompt": "p", "response_a": [], "response_b": "b"}, "response_a"),
])
def test_bad_bodies_get_422_naming_the_field(client: TestClient, body: dict, field: str) -> None:
    response = client.post("/v1/compare", json=body)
    assert response.status_code == 422, response.text
    assert any(loc[:2] == ["body", field] for loc in locs(response)), response.text
    assert all(set(d) == {"loc", "msg", "type"} for d in response.json()["detail"])  # no echo of the input


def test_not_json_and_wrong_shapes(client: TestClient) -> None:
    assert client.post("/v1/compare", content=b"{not json", headers={"content-type": "application/json"}
                       ).status_code == 400
    assert client.post("/v1/compare", json=["a", "b", "c"]).status_code == 422
    assert client.post("/v1/compare", content=b'{"prompt": "\xff"}', headers={"content-type": "application/json"}
                       ).status_code == 400
    assert client.get("/v1/compare").status_code == 405


def test_body_size_limit_with_and_without_content_length(client: TestClient) -> None:
    big = json.dumps({"prompt": "p", "response_a": "a" * 300_000, "response_b": "b"}).encode()
    declared = client.post("/v1/compare", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert "at most 262,144" in declared.json()["detail"][0]["msg"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold on the stream itself
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    streamed = client.post("/v1/compare", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_five_megabyte_answer(judge: Judge) -> None:
    body = {"prompt": "Tell me everything.", "response_a": "word " * 1_000_000, "response_b": "No."}
    with TestClient(create_app(judge)) as default:
        assert default.post("/v1/compare", json=body).status_code == 413  # default 4 MiB body limit
    roomy = Limits(max_body_bytes=8 * 1024 * 1024, max_chars=6_000_000)
    with TestClient(create_app(judge, limits=roomy)) as big:
        start = time.perf_counter()
        response = big.post("/v1/compare", json=body)
        assert response.status_code == 200 and time.perf_counter() - start < 30


def test_batch_keeps_order_and_ids(client: TestClient, judge: Judge, arena_pairs: pd.DataFrame) -> None:
    rows = arena_pairs.iloc[30:42]
    items = [{"id": rid, "prompt": p, "response_a": a, "response_b": b}
             for rid, p, a, b in zip(rows["id"], rows["prompt"], rows["response_a"], rows["response_b"])]
    items[3]["id"] = 12345
    del items[4]["id"]
    response = client.post("/v1/batch", json={"items": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["id"] for r in results] == [item.get("id") for item in items]
    got = np.array([[r["winner_model_a"], r["winner_model_b"], r["winner_tie"]] for r in results])
    np.testing.assert_allclose(got, judge.predict(rows), atol=1e-9)


def test_batch_limits(client: TestClient) -> None:
    item = {"prompt": "p", "response_a": "a", "response_b": "b"}
    too_many = client.post("/v1/batch", json={"items": [item] * 17})
    assert too_many.status_code == 422 and ["body", "items"] in locs(too_many)
    assert client.post("/v1/batch", json={"items": []}).status_code == 422
    bad_item = client.post("/v1/batch", json={"items": [item, {**item, "prompt": ["p", "q"]}]})
    assert bad_item.status_code == 422 and ["body", "items", 1, "response_a"] in locs(bad_item)
    unknown = client.post("/v1/batch", json={"items": [item], "priority": 1})
    assert unknown.status_code == 422 and ["body", "priority"] in locs(unknown)


def test_model_health_page_and_docs(client: TestClient, length_run: Path) -> None:
    info = client.get("/v1/model").json()
    assert info["model"] == "length" and info["run"] == length_run.resolve().name and "run_dir" not in info
    assert info["metrics"]["log_loss"] < info["metrics"]["baselines"]["uniform"] + 0.05
    assert info["limits"]["max_items"] == 16 and info["swap_tta"] is True
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and 'id="compare-form"' in page.text
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text  # Swagger UI comes from the swagger-ui-bundle package: /docs works offline
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert {"/v1/compare", "/v1/batch", "/v1/model", "/healthz"} <= set(client.get("/openapi.json").json()["paths"])


def test_web_page_has_no_external_assets() -> None:
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"(src|href)=\"(https?:)?//", text), path.name
        assert "http://" not in text and "https://" not in text, path.name


def test_concurrent_requests_are_batched_and_correct(judge: Judge, arena_pairs: pd.DataFrame) -> None:
    app = create_app(judge, max_batch=32)
    rows = arena_pairs.iloc[100:164]

    async def fire() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            calls = [http.post("/v1/compare", json={"prompt": p, "response_a": a, "response_b": b})
                     for p, a, b in zip(rows["prompt"], rows["response_a"], rows["response_b"])]
            responses = await asyncio.gather(*calls)
        assert all(r.status_code == 200 for r in responses)
        return [r.json() for r in responses]

    results = asyncio.run(fire())
    batcher = app.state.batcher
    assert batcher.rows == 64 and batcher.calls < 64  # several requests shared a model call
    got = np.array([[r["winner_model_a"], r["winner_model_b"], r["winner_tie"]] for r in results])
    np.testing.assert_allclose(got, judge.predict(rows), atol=1e-9)  # and each got its own answer


def test_conversation_text_is_not_logged(judge: Judge, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(judge)) as test_client:
        test_client.post("/v1/compare", json={"prompt": SECRET, "response_a": SECRET, "response_b": "b"})
        test_client.post("/v1/compare", json={"prompt": SECRET, "response_a": [SECRET, SECRET], "response_b": 1})
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("workers", "model_processes"), [(1, 0), (2, 0), (1, 2)])
def test_real_uvicorn_process(length_run: Path, tmp_path: Path, workers: int, model_processes: int) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "arenapref.cli", "serve", "--run", str(length_run), "--port", str(port),
           "--log-level", "info", "--workers", str(workers), "--model-processes", str(model_processes)]
    with open(log, "wb") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_healthy(base, proc, timeout=60)
        except RuntimeError as err:
            raise AssertionError(f"{err}: {log.read_text()}") from None
        ok = httpx.post(f"{base}/v1/compare", json={"prompt": SECRET, "response_a": "Canberra.",
                                                    "response_b": "Sydney."}, timeout=30)
        assert ok.status_code == 200 and ok.json()["verdict"] in {"A", "B", "tie"}
        bad = httpx.post(f"{base}/v1/compare", json={"prompt": SECRET, "response_a": "x"}, timeout=30)
        assert bad.status_code == 422
        assert httpx.get(f"{base}/", timeout=10).status_code == 200
        if model_processes:  # spawned model processes under the server, each with the run loaded
            spawned = [c for c in children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
            assert len(spawned) == model_processes
        if workers > 1:  # worker processes under the supervisor, each serving the run
            assert len(children(proc.pid)) >= workers
            served = {httpx.get(f"{base}/v1/model", timeout=10).json()["model"] for _ in range(4)}
            assert served == {"length"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert f"on http://127.0.0.1:{port}/" in text  # loopback by default
    assert '"POST /v1/compare HTTP/1.1" 200' in text  # the access log has the request line only ...
    assert SECRET not in text  # ... and never the conversation


def test_union_errors_are_folded_into_one_message_per_field(client: TestClient) -> None:
    wrong_type = client.post("/v1/compare", json={"prompt": 3, "response_a": "a", "response_b": "b"}).json()
    assert wrong_type["detail"] == [{"loc": ["body", "prompt"], "msg": "Input should be a valid string or a valid array",
                                     "type": "type_error"}]
    bad_turn = client.post("/v1/compare", json={"prompt": ["a", 3], "response_a": ["a", "b"], "response_b": "b"})
    assert [d["loc"] for d in bad_turn.json()["detail"]] == [["body", "prompt", 1]]
    too_long = client.post("/v1/compare", json={"prompt": "p" * 60_000, "response_a": "a", "response_b": "b"})
    assert [d["type"] for d in too_long.json()["detail"]] == ["string_too_long"]


def test_serve_defaults_to_loopback_and_warns_otherwise() -> None:
    from arenapref.cli import build_parser
    from arenapref.commands.serve import is_loopback

    args = build_parser().parse_args(["serve", "--run", "x"])
    assert args.host == "127.0.0.1" and is_loopback(args.host)
    assert is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.org")
