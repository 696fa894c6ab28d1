"""DFER recall metrics as a local `evaluate` module (loaded by path: no hub).

UAR (unweighted average recall: the mean of per-class recalls) and WAR (weighted average recall: overall
accuracy), in percent, with per-class recall and the confusion matrix. A class absent from the
references is left out of UAR (its recall is undefined) and reported as NaN; a class never predicted
simply has recall 0.
"""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = __doc__
_CITATION = ""
_KWARGS_DESCRIPTION = """
Args:
    predictions (`list[int]`): predicted class indices.
    references (`list[int]`): true class indices.
    num_classes (`int`, *optional*): number of classes (default: 1 + the largest index seen).
Returns:
    uar, war (`float`, percent), per_class_recall (`list[float]`, percent, NaN for a class absent
    from the references), confusion_matrix (`list[list[int]]`, rows = references, columns = predictions).
Example:
    >>> metric = evaluate.load("a3lign/train/metrics/dfer_recall")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], num_classes=2)["uar"]
    75.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class DferRecall(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, num_classes=None):
        predictions, references = np.asarray(predictions, dtype=np.int64), np.asarray(references, dtype=np.int64)
        if predictions.shape != references.shape or predictions.size == 0:
            raise ValueError(
                f"need as many predictions as references, at least one; got {predictions.size} and {references.size}"
            )
        num_classes = num_classes or int(max(predictions.max(), references.max())) + 1
        confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
        np.add.at(confusion, (references, predictions), 1)
        support = confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            recall = np.where(support > 0, np.diag(confusion) / support, np.nan) * 100
        return {
            "uar": float(np.nanmean(recall)),
            "war": float(np.trace(confusion) / confusion.sum() * 100),
            "per_class_recall": recall.tolist(),
            "confusion_matrix": confusion.tolist(),
        }
