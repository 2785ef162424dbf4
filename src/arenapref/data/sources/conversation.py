"""Role/content message lists (OpenAI chat style) and Human/Assistant transcripts into turns.

A canonical row needs user turns and one answer per user turn. Consecutive messages of the same role
are joined with a blank line (some logs split one turn into several messages); system messages are
dropped; a conversation that does not end with an assistant message lacks an answer for its last user
turn, which is an error.
"""

from __future__ import annotations

import re
from typing import Any

from arenapref.data.validation import RowError

USER_ROLES = frozenset({"user", "human", "prompter"})
ASSISTANT_ROLES = frozenset({"assistant", "gpt", "bot", "model", "chatbot"})
_TRANSCRIPT_SPLIT = re.compile(r"(?:^|\n\n)(Human|Assistant):[ \t]?")


def _merge(messages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for role, text in messages:
        if merged and merged[-1][0] == role:
            merged[-1] = (role, merged[-1][1] + "\n\n" + text)
        else:
            merged.append((role, text))
    return merged


def messages_of(value: Any, field: str) -> list[tuple[str, str]]:
    """``[{"role": ..., "content": ...}, ...]`` as ``[("user"|"assistant", text), ...]``, merged by role."""
    if not isinstance(value, list) or not value:
        raise RowError(field, f"expected a non-empty list of {{role, content}} messages, got {type(value).__name__}")
    out: list[tuple[str, str]] = []
    for i, msg in enumerate(value):
        if not isinstance(msg, dict):
            raise RowError(field, f"message {i} is {type(msg).__name__}, expected an object")
        role = str(msg.get("role", msg.get("from", ""))).lower()
        content = msg.get("content", msg.get("value"))
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise RowError(field, f"message {i} has non-text content ({type(content).__name__})")
        if role in USER_ROLES:
            out.append(("user", content))
        elif role in ASSISTANT_ROLES:
            out.append(("assistant", content))
        elif role != "system":
            raise RowError(field, f"message {i} has unknown role {role!r}")
    return _merge(out)


def turns_of(messages: list[tuple[str, str]], field: str, *, max_turns: int | None = None
             ) -> tuple[list[str], list[str]]:
    """(user turns, assistant answers) of a conversation; ``max_turns`` keeps the first N exchanges."""
    prompts: list[str] = []
    answers: list[str] = []
    for role, text in messages:
        if role == "user":
            prompts.append(text)
        elif not prompts:
            raise RowError(field, "the conversation starts with an assistant message")
        else:
            answers.append(text)
    if not prompts:
        raise RowError(field, "no user message")
    if len(answers) < len(prompts):
        if max_turns is None or len(answers) < max_turns:
            raise RowError(field, f"{len(prompts)} user turns but {len(answers)} answers")
    if max_turns is not None:
        if max_turns < 1:
            raise RowError("turn", f"turn must be at least 1, got {max_turns}")
        if len(prompts) < max_turns:
            raise RowError("turn", f"turn {max_turns} asked for, the conversation has {len(prompts)}")
        prompts, answers = prompts[:max_turns], answers[:max_turns]
    return prompts, answers


def conversation_pair(conv_a: Any, conv_b: Any, *, max_turns: int | None = None
                      ) -> tuple[list[str], list[str], list[str]]:
    """(prompt turns, answers of A, answers of B) from two conversations that share their user turns."""
    prompt_a, resp_a = turns_of(messages_of(conv_a, "conversation_a"), "conversation_a", max_turns=max_turns)
    prompt_b, resp_b = turns_of(messages_of(conv_b, "conversation_b"), "conversation_b", max_turns=max_turns)
    if len(prompt_a) != len(prompt_b):
        raise RowError("conversation_b", f"{len(prompt_b)} user turns, conversation_a has {len(prompt_a)}")
    if [p.strip() for p in prompt_a] != [p.strip() for p in prompt_b]:
        raise RowError("conversation_b", "its user turns differ from those of conversation_a")
    return prompt_a, resp_a, resp_b


def transcript_messages(text: str, field: str) -> list[tuple[str, str]]:
    """An Anthropic HH transcript (``\\n\\nHuman: ...\\n\\nAssistant: ...``) as merged messages."""
    if not isinstance(text, str):
        raise RowError(field, f"expected a transcript string, got {type(text).__name__}")
    parts = _TRANSCRIPT_SPLIT.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise RowError(field, "not a Human/Assistant transcript (expected it to start with 'Human:')")
    messages = [("user" if role == "Human" else "assistant", body.strip())
                for role, body in zip(parts[1::2], parts[2::2])]
    return _merge(messages)
