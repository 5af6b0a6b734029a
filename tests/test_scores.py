"""Accuracy, per-class precision/recall and macro F1 against hand-computed values."""
import pytest
import torch

from budgetnet.training.scores import confusion_matrix, scores


def test_confusion_matrix_counts_true_by_predicted():
    cm = confusion_matrix(torch.tensor([0, 0, 1, 2, 2, 2]), torch.tensor([0, 1, 1, 2, 0, 2]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_scores_match_a_hand_computed_matrix():
    # true 0: 8 right, 2 as 1; true 1: 5 right, 5 as 2; true 2: 10 right; nothing else
    cm = torch.tensor([[8, 2, 0], [0, 5, 5], [0, 0, 10]])
    s = scores(cm)
    # precision: 8/8, 5/7, 10/15; recall: 8/10, 5/10, 10/10
    assert s.precision == pytest.approx([1.0, 5 / 7, 2 / 3])
    assert s.recall == pytest.approx([0.8, 0.5, 1.0])
    f1 = [2 * 0.8 / 1.8, 2 * (5 / 7) * 0.5 / (5 / 7 + 0.5), 2 * (2 / 3) / (5 / 3)]  # 0.8889, 0.5882, 0.8
    assert s.f1 == pytest.approx(f1)
    assert s.f1_macro == pytest.approx(sum(f1) / 3) and s.f1_macro == pytest.approx(0.759041, abs=1e-6)
    assert s.accuracy == pytest.approx(23 / 30)


def test_a_class_never_predicted_counts_as_zero_f1():
    s = scores(torch.tensor([[5, 0], [5, 0]]))
    assert s.precision == [0.5, 0.0] and s.recall == [1.0, 0.0] and s.f1[1] == 0.0
    assert s.f1_macro == pytest.approx((2 * 0.5 / 1.5) / 2)


def test_perfect_predictions_give_f1_one():
    assert scores(torch.eye(4, dtype=torch.long) * 7).f1_macro == 1.0
