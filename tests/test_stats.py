"""data stats: label balance, tie rate, turns, lengths, languages and sources."""

from __future__ import annotations

import json

import numpy as np
import pytest

from arenapref.cli import main
from arenapref.data.schema import make_pairs
from arenapref.data.stats import format_stats, guess_language, pair_stats


@pytest.mark.parametrize("text, lang", [
    ("What is the difference between the two and how does it work?", "en"),
    ("¿Cuál es la diferencia entre los dos y por qué es importante para la gente?", "es"),
    ("Quelle est la différence entre les deux et pourquoi est-ce important pour vous ?", "fr"),
    ("Was ist der Unterschied und wie funktioniert das nicht mit den Daten?", "de"),
    ("Как работает этот алгоритм?", "cyrillic"),
    ("请解释一下量子计算的基本原理", "cjk"),
    ("12345 !!!", "none"),
])
def test_guess_language(text, lang):
    assert guess_language(text) == lang


def test_pair_stats_counts_soft_and_unlabelled_rows():
    targets = np.array([[1, 0, 0], [0, 0, 1], [0.5, 0.25, 0.25], [np.nan] * 3])
    pairs = make_pairs([["hi", "and then?"], "hola, ¿qué tal la vida?", "x", "ok"],
                       [["a", "b"], "bien", "c", "d"], [["e", "f"], "mal", "g", "h"], targets=targets)
    stats = pair_stats(pairs)
    assert (stats.n_rows, stats.n_labelled, stats.n_soft) == (4, 3, 1)
    assert stats.label_mass == {"A": 1.5, "B": 0.25, "tie": 1.25}
    assert stats.tie_rate == pytest.approx(1.25 / 3)
    assert stats.turns == {1: 3, 2: 1}
    assert stats.languages["es"] == 1
    assert "tie 1.2 (41.7%)" in format_stats(stats)


def test_stats_command_on_real_arena_file(arena_dir, capsys):
    assert main(["data", "stats", str(arena_dir / "train.csv")]) == 0
    text = capsys.readouterr().out
    assert "999 rows, 999 labelled (0 soft)" in text and "tie 295.0 (29.5%)" in text
    assert main(["data", "stats", "--json", str(arena_dir / "train.csv")]) == 0
    data = json.loads(capsys.readouterr().out)
    stats = next(iter(data.values()))
    assert stats["turns"]["1"] == 868 and stats["languages"]["en"] > 800


def test_stats_command_bad_file(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "prompt": ["x"]}\n')
    assert main(["data", "stats", str(bad)]) == 2
    assert "bad.jsonl" in capsys.readouterr().err
