"""The classifier's loss: the four Kang grades, plus the clinical cut between them."""

import torch
import torch.nn.functional as F
from torch import nn


def significant_logit(logits: torch.Tensor) -> torch.Tensor:
    """log P(grade >= 2) - log P(grade < 2), from the 4-grade logits."""
    return torch.logsumexp(logits[:, 2:], dim=1) - torch.logsumexp(logits[:, :2], dim=1)


class GradeLoss(nn.Module):
    """Cross-entropy on the grades + `binary_weight` x binary cross-entropy on P(grade >= 2).

    The binary term trains the quantity the binary task reads (significant stenosis = grade 2 or
    3) directly, so grade 1 and grade 2 levels are pushed apart across the cut, not only ranked.
    """

    def __init__(
        self, *, weight: torch.Tensor | None = None, label_smoothing: float = 0.05, binary_weight: float = 0.0
    ) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.label_smoothing, self.binary_weight = label_smoothing, binary_weight

    def forward(self, logits: torch.Tensor, grades: torch.Tensor) -> torch.Tensor:
        loss = F.cross_entropy(logits, grades, weight=self.weight, label_smoothing=self.label_smoothing)
        if self.binary_weight:
            significant = (grades >= 2).to(logits.dtype)
            loss = loss + self.binary_weight * F.binary_cross_entropy_with_logits(
                significant_logit(logits), significant
            )
        return loss
