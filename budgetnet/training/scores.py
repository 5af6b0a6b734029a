"""Classification scores from a confusion matrix: accuracy, per-class precision and recall,
F1 per class and macro F1 (the unweighted mean over classes, as scikit-learn's `average="macro"`).

A class that is never predicted has precision 0 (and one never present recall 0), so it pulls
the macro F1 down instead of being skipped."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, classes: int) -> torch.Tensor:
    """cm[i, j] = images of true class i predicted as class j."""
    cm = torch.zeros(classes, classes, dtype=torch.long)
    cm.index_put_((y_true.cpu().long(), y_pred.cpu().long()), torch.ones_like(y_true.cpu(), dtype=torch.long),
                  accumulate=True)
    return cm


@dataclass(frozen=True)
class Scores:
    accuracy: float
    f1_macro: float
    precision: list[float]  # per class
    recall: list[float]     # per class, = per-class accuracy
    f1: list[float]         # per class

    def to_dict(self) -> dict:
        return asdict(self)


def scores(cm: torch.Tensor) -> Scores:
    cm = cm.double()
    hits, predicted, present = cm.diag(), cm.sum(0), cm.sum(1)
    precision = hits / predicted.clamp(min=1)
    recall = hits / present.clamp(min=1)
    f1 = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    return Scores((hits.sum() / cm.sum().clamp(min=1)).item(), f1.mean().item(),
                  precision.tolist(), recall.tolist(), f1.tolist())
