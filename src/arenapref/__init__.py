"""arenapref: predict which of two chatbot answers a human prefers (P(A wins), P(B wins), P(tie))."""

__version__ = "0.1.0"
