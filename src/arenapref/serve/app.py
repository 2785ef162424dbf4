"""The HTTP service: one loaded :class:`arenapref.api.Judge` behind a small JSON API and a web page.

``POST /v1/compare``  one pair -> three probabilities and the verdict (``"explain": true``: and why)
``POST /v1/batch``    up to ``max_items`` pairs in one request, answers in the same order
``GET  /v1/model``    what is loaded (model, recipe, CV metrics, version) and the limits
``GET  /healthz``     liveness
``GET  /``            the web page (static files in ``serve/static``, no external assets)
``GET  /docs``        OpenAPI (the schema itself is at ``/openapi.json``)

Conversation text is never logged: the app logs nothing of a request body, validation errors are
answered without echoing the input back, and uvicorn's access log has only method, path and status.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime
import json
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from arenapref.api import Judge, release_feature_cache
from arenapref.data.inputs import InputError, clean_pair, pairs_frame
from arenapref.data.schema import CLASS_NAMES, LABEL_COLUMNS
from arenapref.data.validation import fix_text
from arenapref.explain import explain
from arenapref.serve import procs
from arenapref.serve.batcher import MicroBatcher
from arenapref.serve.limits import BodySizeLimit
from arenapref.serve.procs import ModelProcesses
from arenapref.serve.schemas import BatchResponse, CompareScores, ErrorResponse, Health, request_models
from arenapref.serve.settings import Limits
from arenapref.version import __version__

STATIC = Path(__file__).resolve().parent / "static"
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body is not UTF-8 JSON"},
    413: {"model": ErrorResponse, "description": "the body is larger than the service's limit"},
    422: {"model": ErrorResponse, "description": "a field is invalid; the detail names it (no input is echoed back)"},
}


def _scores(proba: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {col: float(p) for col, p in zip(LABEL_COLUMNS, proba)}
    out["verdict"] = CLASS_NAMES[int(np.argmax(proba))]
    return out


# pydantic names the branch of a union in the location ("prompt", "constrained-str"); users know fields
_UNION_TAGS = {"constrained-str", "str", "int", "none"}
_TYPE_ERRORS = {"string_type", "list_type", "int_type", "none_required", "model_attributes_type", "model_type",
                "dict_type"}


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and (part in _UNION_TAGS or "[" in part)


def tidy_errors(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors as ``{loc, msg, type}`` per field: union branches folded into one message, a
    specific complaint (too long, too many turns) preferred over "wrong type" from the other branch."""
    by_loc: dict[tuple, list[dict[str, Any]]] = {}
    for err in errors:
        loc = tuple(part for part in err.get("loc", ()) if not _is_union_tag(part))
        by_loc.setdefault(loc, []).append(err)
    tidy = []
    for loc, group in by_loc.items():
        specific = [e for e in group if e.get("type") not in _TYPE_ERRORS]
        deeper = any(len(other) > len(loc) and other[:len(loc)] == loc for other in by_loc)
        if not specific and deeper:
            continue  # "not a string" for a list whose item 1 is the real problem
        if specific:
            tidy += [{"loc": list(loc), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in specific]
        else:
            wanted = dict.fromkeys(e.get("msg", "").removeprefix("Input should be ") for e in group)
            tidy.append({"loc": list(loc), "msg": "Input should be " + " or ".join(wanted), "type": "type_error"})
    return tidy


def _unprocessable(errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": errors})


def _repair_unicode(value: Any) -> Any:
    """Lone surrogates (``"\\ud800"`` escapes) made valid, as the CLI and the Python API do."""
    if isinstance(value, str):
        return fix_text(value)
    if isinstance(value, list):
        return [_repair_unicode(v) for v in value]
    if isinstance(value, dict):
        return {_repair_unicode(k): _repair_unicode(v) for k, v in value.items()}
    return value


def _declares_json(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (``application/json`` or ``application/*+json``), as FastAPI reads it."""
    main, _, sub = (content_type or "").split(";", 1)[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


async def validated_body(request: Request, model: type[BaseModel]) -> Any:
    """The request's JSON body validated as ``model``, with the errors FastAPI gives a body parameter.

    Pydantic parses and validates the bytes in one pass: FastAPI's own body handling (its Content-Type
    parsing, ``json.loads``, dependency solving, then validation) cost more CPU than the rest of a small
    request (docs/speed.md). Lone surrogate escapes (``"\\ud800"``), which pydantic's parser refuses,
    are parsed by Python's and repaired, as the CLI and the Python API repair them."""
    raw = await request.body()
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
    if not _declares_json(request.headers.get("content-type")):
        raise RequestValidationError([{"type": "model_attributes_type", "loc": ("body",),
                                       "msg": "Input should be a valid dictionary or object to extract fields from"}])
    try:
        return model.model_validate_json(raw)
    except ValidationError as err:
        errors = err.errors()
    if b"\\u" in raw and any(e["type"] == "json_invalid" for e in errors):
        try:
            value = json.loads(raw)
        except ValueError:  # not JSON for Python either: the first errors stand
            pass
        else:
            try:
                return model.model_validate(_repair_unicode(value))
            except ValidationError as err:
                errors = err.errors()
    raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of an endpoint that reads its body with :func:`validated_body`."""
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


def create_app(judge: Judge, *, limits: Limits | None = None, max_batch: int = 32,
               model_processes: ModelProcesses | None = None) -> FastAPI:
    """The FastAPI app serving ``judge``; ``max_batch`` rows per model call (1 turns batching off).
    With ``model_processes`` (started, serving the same run) the batches are scored there, as many at
    once as there are processes, and the app closes them when it shuts down."""
    limits = limits or Limits()

    batcher = (MicroBatcher(partial(procs.score_rows, judge), max_rows=max_batch) if model_processes is None else
               MicroBatcher(model_processes.score, max_rows=max_batch, in_flight=model_processes.n))

    def explain_rows(rows: list[dict[str, Any]]) -> list[Any]:
        explanations = explain(judge.model, pairs_frame(rows))
        release_feature_cache()
        return explanations

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        await batcher.close()
        if model_processes is not None:
            model_processes.close()

    assets = _swagger_assets()
    app = FastAPI(title="arenapref", version=__version__, lifespan=lifespan, redoc_url=None,
                  docs_url="/docs" if assets is None else None,
                  description="Which of two chatbot answers would a human prefer? P(A wins), P(B wins), "
                              "P(tie) from a trained arenapref run.")
    app.state.judge, app.state.batcher, app.state.limits = judge, batcher, limits
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)
    compare_model, batch_model = request_models(limits)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the default handler echoes the offending input back; for a 200k-character field that is
        # both a waste and a way for conversation text to end up in client logs
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse(status_code=400, content={"detail": [
                {"loc": ["body"], "msg": "the body is not valid JSON", "type": "json_invalid"}]})
        return _unprocessable(tidy_errors(errors))

    def cleaned(body: Any, index: int | None = None) -> dict[str, Any]:
        try:
            return clean_pair(body.prompt, body.response_a, body.response_b)
        except InputError as err:
            loc = ["body"] + (["items", index] if index is not None else []) + ([err.field] if err.field else [])
            raise _InvalidPair(loc, err.reason) from None

    @app.exception_handler(_InvalidPair)
    async def invalid_pair(request: Request, exc: _InvalidPair) -> JSONResponse:
        return _unprocessable([{"loc": exc.loc, "msg": exc.message, "type": "value_error"}])

    @app.post("/v1/compare", response_model=CompareScores, response_model_exclude_none=True,
              summary="Score one pair", responses=ERROR_RESPONSES, openapi_extra=_documented_body(compare_model))
    async def compare(request: Request) -> JSONResponse:
        body = await validated_body(request, compare_model)
        row = cleaned(body)
        proba = await batcher.submit([row])
        out = _scores(proba[0])
        if getattr(body, "explain", False):
            out["explanation"] = (await run_in_threadpool(explain_rows, [row]))[0].to_dict()
        # a Response is sent as it is: the route's response model documents the body but is not run over
        # it again (validating and serialising it cost more CPU than the rest of a small request)
        return JSONResponse(out)

    @app.post("/v1/batch", response_model=BatchResponse, summary=f"Score up to {limits.max_items} pairs",
              responses=ERROR_RESPONSES, openapi_extra=_documented_body(batch_model))
    async def batch(request: Request) -> JSONResponse:
        items = (await validated_body(request, batch_model)).items  # a model built at start-up for the limits
        rows = [cleaned(item, i) for i, item in enumerate(items)]
        proba = await batcher.submit(rows)
        return JSONResponse({"results": [{"id": item.id, **_scores(p)} for item, p in zip(items, proba)]})

    @app.api_route("/v1/model", methods=["GET", "HEAD"], summary="What is loaded")
    async def model_info() -> dict[str, Any]:
        return {**judge.info, "swap_tta": judge.swap_tta, "limits": limits.as_dict(), "max_batch": max_batch,
                "served_by": f"arenapref {__version__}"}

    @app.api_route("/healthz", methods=["GET", "HEAD"], response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

        @app.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)
        async def docs() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url="/openapi.json", title="arenapref API",
                                       swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                       swagger_css_url="/docs-assets/swagger-ui.css",
                                       swagger_favicon_url="/docs-assets/favicon-32x32.png")

    def openapi() -> dict[str, Any]:
        # the request models are read by validated_body, not declared as parameters: their schemas are
        # added here, next to what FastAPI documents itself
        schema = app.openapi_schema
        if schema is None:
            schema = FastAPI.openapi(app)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (compare_model, batch_model):
                model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(model_schema.pop("$defs", {}))
                components[model.__name__] = model_schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _swagger_assets() -> Path | None:
    """Swagger UI 5's files from the swagger-ui-py package, so /docs works without a network; None where it
    is not installed (FastAPI's /docs then loads them from a CDN)."""
    try:
        import swagger_ui
    except ImportError:
        return None
    path = Path(swagger_ui.__file__).resolve().parent / "static"
    return path if (path / "swagger-ui-bundle.js").exists() else None


class _InvalidPair(Exception):
    """A request that passed the schema but not the pair checks (e.g. unequal turn counts)."""

    def __init__(self, loc: list[Any], message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message
