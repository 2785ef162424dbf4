"""Pairs -> token ids (both orientations), padding, and length-sorted dynamic batches."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from arenapref.data.schema import TIE, A, B, has_labels, targets_of
from arenapref.text.render import PairRenderer, RenderedPair, truncation_report

SWAP_COLUMNS = [B, A, TIE]


@dataclass
class EncodedPairs:
    """Token ids of every pair as given (``ids``) and A/B-swapped (``swapped_ids``), with its targets."""

    ids: list[list[int]]
    swapped_ids: list[list[int]]
    targets: np.ndarray           # (n, 3); NaN rows for unlabelled pairs
    teacher: np.ndarray | None    # (n, 3) teacher probabilities for distillation
    report: pd.DataFrame          # the truncation report of the as-given orientation
    offset: np.ndarray | None = None          # (n, 3) logits added to the model's (``model.offset``), as given
    swapped_offset: np.ndarray | None = None  # and for the swapped orientation
    decisive: np.ndarray | None = None        # (n,) bool: the row's source left ties out (``train.no_tie_sources``)

    def __len__(self) -> int:
        return len(self.ids)

    def view(self, idx: np.ndarray, swap: np.ndarray) -> Examples:
        """The examples ``idx``, swapped where ``swap`` is True."""
        seqs = [self.swapped_ids[i] if s else self.ids[i] for i, s in zip(idx, swap)]
        targets = self.targets[idx].copy()
        targets[swap] = targets[swap][:, SWAP_COLUMNS]
        teacher = None
        if self.teacher is not None:
            teacher = self.teacher[idx].copy()
            teacher[swap] = teacher[swap][:, SWAP_COLUMNS]
        offset = None
        if self.offset is not None and self.swapped_offset is not None:
            offset = np.where(swap[:, None], self.swapped_offset[idx], self.offset[idx])
        return Examples(seqs, targets, teacher, offset, None if self.decisive is None else self.decisive[idx])


@dataclass
class Examples:
    """One optimizer step's examples, oriented: what the loss needs of each (see :class:`EncodedPairs`)."""

    seqs: list[list[int]]
    targets: np.ndarray
    teacher: np.ndarray | None
    offset: np.ndarray | None
    decisive: np.ndarray | None


def encode_pairs(renderer: PairRenderer, pairs: pd.DataFrame, *, teacher: np.ndarray | None = None,
                 with_swapped: bool = True, offsets: tuple[np.ndarray, np.ndarray] | None = None,
                 decisive: np.ndarray | None = None) -> EncodedPairs:
    rendered: list[RenderedPair] = renderer.render_pairs(pairs)
    swapped: list[list[int]] = []
    if with_swapped:
        swapped = [renderer.render(p, b, a, row_id=str(i)).input_ids for i, p, a, b in
                   zip(pairs["id"], pairs["prompt"], pairs["response_a"], pairs["response_b"])]
    targets = np.full((len(pairs), 3), np.nan)
    mask = has_labels(pairs)
    if mask.any():
        targets[mask] = targets_of(pairs.loc[mask])
    return EncodedPairs([r.input_ids for r in rendered], swapped, targets, teacher, truncation_report(rendered),
                        offset=None if offsets is None else offsets[0],
                        swapped_offset=None if offsets is None else offsets[1], decisive=decisive)


def collate(seqs: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask``."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        mask[row, :len(seq)] = 1
    return ids, mask


def length_sorted_batches(lengths: list[int] | np.ndarray, batch_size: int, max_batch_tokens: int) -> list[np.ndarray]:
    """Index batches in descending length order: at most ``batch_size`` rows and ``max_batch_tokens`` padded
    tokens each (a single row longer than the token budget still forms its own batch)."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    current: list[int] = []
    for i in order:
        width = lengths[current[0]] if current else lengths[i]  # first row of a batch is its longest
        if current and (len(current) >= batch_size or width * (len(current) + 1) > max_batch_tokens):
            batches.append(np.asarray(current))
            current = []
        current.append(int(i))
    if current:
        batches.append(np.asarray(current))
    return batches
