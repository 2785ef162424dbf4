"""Request and response bodies of the HTTP service, built for a given set of :class:`Limits`.

The limits go into the models (and so into the OpenAPI schema): turns per field, characters per turn
and per field, items per batch. Unknown keys are rejected (``extra="forbid"``), so a misspelt field
is a 422 that names it rather than a silently ignored value.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, create_model, field_validator

from arenapref.serve.settings import Limits

EXAMPLE: dict[str, Any] = {"prompt": "What is the capital of Australia?",
           "response_a": "Canberra.",
           "response_b": "Sydney is the capital of Australia."}


class Scores(BaseModel):
    winner_model_a: float = Field(description="P(answer A is preferred)")
    winner_model_b: float = Field(description="P(answer B is preferred)")
    winner_tie: float = Field(description="P(tie)")
    verdict: Literal["A", "B", "tie"] = Field(description="the most likely of the three")


class Reason(BaseModel):
    aspect: str = Field(description='what the reason is about ("length", "headers", ...)')
    favours: Literal["A", "B"]
    weight: float = Field(description="contribution to the log-odds of A over B (> 0 favours A)")
    text: str = Field(description='in plain words, e.g. "A is 3.1× longer than B"')


class Explanation(BaseModel):
    available: bool = Field(description="false for run types that cannot explain (then see message)")
    reasons: list[Reason] = Field(default_factory=list, description="strongest first")
    margin: float | None = Field(None, description="total log-odds of A over B")
    message: str | None = None


class CompareScores(Scores):
    explanation: Explanation | None = Field(None, description='only when the request asks "explain": true')


class BatchScores(Scores):
    id: str | int | None = None


class BatchResponse(BaseModel):
    results: list[BatchScores]


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(description='where: ["body", field, ...]')
    msg: str
    type: str


class ErrorResponse(BaseModel):
    detail: list[ErrorDetail]


class Health(BaseModel):
    status: Literal["ok"]


def _turns_type(limits: Limits) -> Any:
    turn = Annotated[str, StringConstraints(max_length=limits.max_chars)]
    turns = Annotated[list[turn | None], Field(min_length=1, max_length=limits.max_turns)]
    return Annotated[turn | turns, Field(description="a string (one turn) or a list of turns; prompt and "
                                                     f"answers need the same number of turns (at most "
                                                     f"{limits.max_turns}), at most {limits.max_chars:,} "
                                                     "characters per field")]


def _field_chars(limits: Limits) -> Any:
    """A validator capping the characters of a whole field (a per-turn cap alone lets many turns through)."""

    def check(cls: type, value: Any) -> Any:
        total = len(value) if isinstance(value, str) else sum(len(t or "") for t in value)
        if total > limits.max_chars:
            raise ValueError(f"{total:,} characters; at most {limits.max_chars:,} per field")
        return value

    return field_validator("prompt", "response_a", "response_b")(check)


def request_models(limits: Limits) -> tuple[type[BaseModel], type[BaseModel]]:
    """The ``CompareRequest`` and ``BatchRequest`` models for these limits."""
    turns = _turns_type(limits)
    strict = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE]})
    # field definitions as create_model takes them: name -> (type, default), the type built for the limits
    fields: dict[str, Any] = {"prompt": (turns, ...), "response_a": (turns, ...), "response_b": (turns, ...)}
    validators = {"check_chars": _field_chars(limits)}
    explain = (bool, Field(False, description="also return the top reasons behind the verdict (gbdt runs)"))
    compare = create_model("CompareRequest", __config__=strict, __validators__=validators, **{"explain": explain, **fields})
    item_id = Annotated[str, StringConstraints(max_length=limits.max_id_chars)] | StrictInt | None
    item = create_model("BatchItem", __config__=ConfigDict(extra="forbid"), __validators__=validators,
                        **{"id": (item_id, None), **fields})
    batch = create_model("BatchRequest", __config__=ConfigDict(extra="forbid"),
                         items=(Annotated[list[item], Field(min_length=1, max_length=limits.max_items)], ...))
    return compare, batch
