"""The dataset flags every command shares, and the folds they expand to."""

import pytest

from a3lign.data import FOLDS, DatasetArguments


def test_folds():
    assert DatasetArguments("dfew", "/data", fold="3").folds() == ["3"]
    assert DatasetArguments("mafw", "/data", fold="all").folds() == list(FOLDS) == ["1", "2", "3", "4", "5"]
    assert DatasetArguments("dfew", "/data").folds(all_by_default=True) == list(FOLDS)
    assert DatasetArguments("csv", "/data").folds() == [None]  # no folds (a --fold for csv is refused: below)
    with pytest.raises(ValueError, match="--fold is required for dfew: 1..5 or all"):
        DatasetArguments("dfew", "/data").folds()
    with pytest.raises(ValueError, match="dataset='kinetics' is unknown: expected one of dfew, ferv39k"):
        DatasetArguments("kinetics", "/data")


def test_a_fold_for_a_dataset_without_folds_is_refused():
    """It used to be ignored silently: `--dataset ferv39k --fold 3` trained on FERV39k's one split."""
    from a3lign.data import DatasetArguments

    with pytest.raises(ValueError, match="ferv39k has no folds"):
        DatasetArguments(dataset="ferv39k", data_root="/data", fold="3")
    assert DatasetArguments(dataset="dfew", data_root="/data", fold="3").folds() == ["3"]
