"""The one exception a recipe problem raises: a ValueError, so the CLI prints one line and exits 2."""

from __future__ import annotations


class ConfigError(ValueError):
    """A recipe that cannot be used: names the file (or --set), the key's path and what is wrong."""
