"""Schemathesis against the service's own OpenAPI schema: generated requests (valid and invalid) never get
a server error, and every answer matches the documented status codes and response schemas."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

import arenapref

schemathesis = pytest.importorskip("schemathesis")
pytest.importorskip("fastapi")

from arenapref.serve.app import create_app  # noqa: E402
from arenapref.serve.settings import Limits  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(length_run: Path) -> object:
    run_dir = length_run
    # small limits, so that generated data crosses them and the 413/422 paths are exercised too
    limits = Limits(max_body_bytes=16 * 1024, max_turns=3, max_chars=1_000, max_items=3, max_id_chars=32)
    app = create_app(arenapref.load(run_dir), limits=limits, max_batch=8)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# (schemathesis' own pytest loader, `from_fixture`, breaks on pytest 9, so the strategies are used directly)
OPERATIONS = [("/v1/compare", "POST"), ("/v1/batch", "POST"), ("/v1/model", "GET"), ("/healthz", "GET")]


@pytest.mark.parametrize("mode", ["positive", "negative"])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_conforms_to_its_schema(api_schema: object, path: str, method: str, mode: str) -> None:
    from schemathesis.generation.modes import GenerationMode
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    operation = api_schema[path][method]  # type: ignore[index]
    if mode == "negative" and method == "GET":
        pytest.skip("a GET without parameters has no invalid input")

    @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)
    def check(case: object) -> None:
        # Equal turn counts across fields and the body-size cap cannot be written in JSON Schema, so a
        # schema-valid body may still be refused; instead of schemathesis' blanket "valid data is
        # accepted" check, a refusal must be one of exactly those two reasons.
        # schemathesis' "invalid data is rejected" check does not count 413 as a refusal; the assert
        # below does, since an oversized body must be refused for its size first
        response = case.call_and_validate(  # type: ignore[attr-defined]
            excluded_checks=[positive_data_acceptance, negative_data_rejection])
        if mode == "negative":
            assert response.status_code in (400, 413, 422), response.text
        elif response.status_code != 200:
            assert response.status_code == 413 or (
                response.status_code == 422 and "unequal turn counts" in response.text), response.text

    check()
