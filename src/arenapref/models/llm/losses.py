"""Per-example losses: soft-target cross-entropy with label smoothing, the A-vs-B cross-entropy of rows
from a source without ties, and teacher distillation.

Both return one value per example; the training loop sums them and divides by the number of examples
in the whole optimizer step (all micro-batches), so gradient accumulation over uneven micro-batches
gives exactly the gradient of the full-batch mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def smooth(targets: torch.Tensor, label_smoothing: float) -> torch.Tensor:
    """(1 - eps) * targets + eps / K."""
    if label_smoothing <= 0:
        return targets
    return targets * (1.0 - label_smoothing) + label_smoothing / targets.shape[-1]


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """-sum_k t_k log softmax(z)_k per row; targets may be soft (rows sum to 1)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return -(smooth(targets.float(), label_smoothing) * logp).sum(dim=-1)


def decisive_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """For a row of a source that left its ties out: -sum over A, B of t_k log(p_k / (p_A + p_B)) per row.

    Only the A-vs-B margin is trained; the tie logit gets no gradient, so a tie-free source does not
    teach the model that ties never happen (columns: A, B, tie)."""
    logp = F.log_softmax(logits.float()[:, :2], dim=-1)
    t = targets.float()[:, :2]
    return -(t / t.sum(dim=-1, keepdim=True).clamp_min(1e-12) * logp).sum(dim=-1)


def teacher_logits(teacher_proba: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Teachers hand over probabilities; log p is a valid logit vector for them (softmax(log p) = p)."""
    return torch.log(teacher_proba.float().clamp_min(eps))


def distillation_loss(logits: torch.Tensor, targets: torch.Tensor, teacher_proba: torch.Tensor, *,
                      alpha: float, temperature: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """alpha * CE(targets, student) + (1 - alpha) * T^2 * KL(teacher_T || student_T), per row.

    ``teacher_T = softmax(log p_teacher / T)``, ``student_T = softmax(z / T)``; the T^2 factor keeps the
    gradient scale of the soft term independent of T (Hinton et al., 2015).
    """
    ce = soft_cross_entropy(logits, targets, label_smoothing)
    t = float(temperature)
    log_teacher = F.log_softmax(teacher_logits(teacher_proba) / t, dim=-1)
    log_student = F.log_softmax(logits.float() / t, dim=-1)
    kl = (log_teacher.exp() * (log_teacher - log_student)).sum(dim=-1)
    return alpha * ce + (1.0 - alpha) * (t * t) * kl
