"""Service limits (stdlib only, so the CLI can show the defaults without importing the web stack)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """What one request may carry; anything larger gets 413 (body) or 422 (field) naming the limit."""

    max_body_bytes: int = 4 * 1024 * 1024
    max_turns: int = 64
    max_chars: int = 200_000  # per field, all turns together
    max_items: int = 64  # pairs per /v1/batch request
    max_id_chars: int = 256

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)
