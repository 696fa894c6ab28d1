"""The UAR/WAR metric module against hand-computed figures."""

import math

import pytest

from a3lign.train.metrics import load_dfer_recall


def test_hand_computed_example_with_a_class_never_predicted():
    # references: class 0 x4, class 1 x3, class 2 x3; class 2 is never predicted.
    references = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    predictions = [0, 0, 0, 1, 1, 1, 0, 0, 1, 1]
    result = load_dfer_recall().compute(predictions=predictions, references=references, num_classes=3)
    # recalls: 3/4, 2/3, 0/3 -> UAR = (75 + 66.67 + 0) / 3; WAR = 5/10
    assert result["per_class_recall"] == pytest.approx([75.0, 200 / 3, 0.0])
    assert result["uar"] == pytest.approx((75 + 200 / 3) / 3)
    assert result["war"] == pytest.approx(50.0)
    assert result["confusion_matrix"] == [[3, 1, 0], [1, 2, 0], [1, 2, 0]]


def test_a_class_absent_from_the_references_is_left_out_of_uar():
    result = load_dfer_recall().compute(predictions=[0, 1, 2, 0], references=[0, 1, 1, 0], num_classes=4)
    assert math.isnan(result["per_class_recall"][2]) and math.isnan(result["per_class_recall"][3])
    assert result["uar"] == pytest.approx((100 + 50) / 2)
    assert result["war"] == pytest.approx(75.0)


def test_mismatched_lengths_raise():
    with pytest.raises(ValueError):
        load_dfer_recall().compute(predictions=[0, 1], references=[0, 1, 1])
