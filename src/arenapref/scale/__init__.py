"""Scoring beyond one process: the settings a resumable job is bound to, and the Ray Data engine."""
