"""Tests of `a3lign.predict`, and `tiny_model_folder`, which the command's tests share."""

from a3lign import A3lignVideoProcessor
from a3lign.train.run import save_model_folder

from ..conftest import A3lignTester


def tiny_model_folder(folder, seed: int = 3):
    """An untrained tiny model (4 frames of 32 px, 3 classes) saved with its processor, as a run saves it."""
    model = A3lignTester().build_model(seed=seed)
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), folder)
    return folder
