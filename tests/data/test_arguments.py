"""The dataset flags every command shares, and the folds they expand to."""

import pytest

from a3lign.data import FOLDS, DatasetArguments


def test_folds():
    assert DatasetArguments("dfew", "/data", fold="3").folds() == ["3"]
    assert DatasetArguments("mafw", "/data", fold="all").folds() == list(FOLDS) == ["1", "2", "3", "4", "5"]
    assert DatasetArguments("dfew", "/data").folds(all_by_default=True) == list(FOLDS)
    assert DatasetArguments("csv", "/data", fold="2").folds() == [None]  # no folds: the flag is ignored
    with pytest.raises(ValueError, match="--fold is required for dfew: 1..5 or all"):
        DatasetArguments("dfew", "/data").folds()
    with pytest.raises(ValueError, match="dataset='kinetics' is unknown: expected one of dfew, ferv39k"):
        DatasetArguments("kinetics", "/data")
