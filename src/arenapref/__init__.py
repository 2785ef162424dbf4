"""arenapref: predict which of two chatbot answers a human prefers (P(A wins), P(B wins), P(tie))."""

from arenapref.version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> object:  # keeps `import arenapref` light: pandas/models load on first use of `load`
    if name == "load":
        from arenapref.judge import load

        return load
    raise AttributeError(f"module 'arenapref' has no attribute {name!r}")
