"""Beyond two answers: rank N answers to a prompt, and leaderboards of models with intervals."""

from arenapref.ranking.rank import RankResult, rank_answers

__all__ = ["RankResult", "rank_answers"]
