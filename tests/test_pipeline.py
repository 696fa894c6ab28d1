"""pipeline("video-classification") and AutoVideoProcessor on a saved folder, in a fresh process
without the `a3lign` package: the folder alone must carry model, processor and code."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from transformers import pipeline

from a3lign import A3lignModel, A3lignVideoProcessor
from a3lign.train.run import save_model_folder

from .videos import noise_frames, write_frame_folder, write_video

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys, torch
    import numpy as np
    sys.modules["a3lign"] = None  # not importable: everything comes from the folder
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline
    folder, clips, saved = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])

    processor = AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert type(processor).__module__.startswith("transformers_modules"), type(processor)
    loaded = json.loads(processor.to_json_string())
    for key, value in saved.items():
        assert loaded[key] == value, (key, loaded[key], value)

    classifier = pipeline("video-classification", model=folder, trust_remote_code=True)
    assert type(classifier).__name__ == "A3lignVideoClassificationPipeline", type(classifier)
    assert type(classifier.video_processor).__name__ == "A3lignVideoProcessor"
    model = AutoModelForVideoClassification.from_pretrained(folder, trust_remote_code=True).eval()
    labels = model.config.id2label

    def direct(clip, num_frames=None):
        kwargs = {} if num_frames is None else {"num_frames": num_frames}
        with torch.no_grad():
            probabilities = model(**processor(clip, **kwargs)).logits.softmax(-1)[0]
        scores, ids = probabilities.topk(2)
        return [{"score": s, "label": labels[i]} for s, i in zip(scores.tolist(), ids.tolist())]

    def same(a, b):
        assert [x["label"] for x in a] == [x["label"] for x in b], (a, b)
        assert all(abs(x["score"] - y["score"]) < 1e-5 for x, y in zip(a, b)), (a, b)

    single = classifier(clips[0], top_k=2)
    same(single, direct(clips[0]))
    batch = classifier(clips, top_k=2)
    assert len(batch) == len(clips)
    for clip, result in zip(clips, batch):
        same(result, direct(clip))
    same(classifier(clips[0], top_k=2, num_frames=4), direct(clips[0], num_frames=4))
    everything = classifier(clips[1])
    assert len(everything) == min(5, len(labels)) and (
        abs(sum(r["score"] for r in classifier(clips[1], top_k=99)) - 1) < 1e-4
    )

    # In-memory clips: one result per clip, whatever the form (issue 11: a 5-D batch lost clips 1..B-1, a
    # list of frames was classified frame by frame).
    rng = np.random.default_rng(0)
    batch5 = rng.integers(0, 256, (3, 7, 35, 22, 3), dtype=np.uint8)
    results = classifier(batch5, top_k=2)
    assert len(results) == 3 and all(len(r) == 2 for r in results), results
    for clip, result in zip(batch5, results):
        same(result, direct(clip))
    frames = list(batch5[1])  # one clip as a list of (H, W, 3) frames
    same(classifier(frames, top_k=2), direct(batch5[1]))
    same(classifier(batch5[2], top_k=2), direct(batch5[2]))  # one (T, H, W, C) array
    assert len(classifier([batch5[0], batch5[2]], top_k=2)) == 2  # a list of clips
    same(classifier(batch5[0, 0], top_k=2), direct(batch5[0, :1]))  # one image: a one-frame clip
    for bad, message in (
        ([], "no clip given"),
        ("https://example.org/a.mp4", "is a URL"),
        (np.full((4, 8, 8, 3), np.nan, np.float32), "NaN"),
        (np.ones((4, 8, 8, 3), bool), "dtype bool"),
    ):
        try:
            classifier(bad)
        except ValueError as error:
            assert message in str(error), (message, error)
        else:
            raise AssertionError(f"no error for {message}")
    print("PIPELINE-OK")
    """
)


def test_pipeline_and_processor_from_a_saved_folder(tester, tmp_path):
    torch.manual_seed(0)
    model = A3lignModel(tester.get_config(num_frames=6, id2label={0: "calm", 1: "joy", 2: "fear"}, bap_stage=3))
    # Non-default settings, so that the round trip is tested on every one of them.
    processor = A3lignVideoProcessor.from_model_config(
        model.config, size={"shortest_edge": 40}, image_mean=[0.5, 0.4, 0.3]
    )
    folder = tmp_path / "model"
    save_model_folder(model, processor, folder)
    assert (folder / "video_preprocessor_config.json").exists() and (folder / "processing_a3lign.py").exists()
    assert (folder / "pipeline_a3lign.py").exists()
    clips = [
        str(write_video(tmp_path / "a.mp4", noise_frames(25, 62, 98), "libx264", "yuv420p")),
        str(write_video(tmp_path / "b.webm", noise_frames(3, 61, 97, seed=1), "libvpx-vp9", "yuv420p")),
        str(write_frame_folder(tmp_path / "c", noise_frames(11, 40, 50, seed=2))),
    ]
    saved = {k: v for k, v in json.loads(processor.to_json_string()).items() if k != "auto_map"}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(folder), json.dumps(clips), json.dumps(saved)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "PIPELINE-OK" in result.stdout


def test_a_processor_that_does_not_match_the_model_is_refused(tester, tmp_path):
    """A video_preprocessor_config.json with another crop than the model's is refused when the pipeline is
    built, and pixels of another size are refused by the model (issue 11: they changed the predictions)."""
    from transformers import pipeline

    model = A3lignModel(tester.get_config())
    folder = tmp_path / "model"
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), folder)
    config = json.loads((folder / "video_preprocessor_config.json").read_text())
    config["crop_size"] = {"height": 64, "width": 64}
    (folder / "video_preprocessor_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="does not match the model"):
        pipeline("video-classification", model=str(folder), trust_remote_code=True)
    with pytest.raises(ValueError, match=r"takes \(3, 32, 32\)"):
        model(pixel_values_videos=torch.zeros(1, tester.num_frames, 3, 64, 64))


def test_a_folder_saved_the_readme_way_carries_the_pipeline(tester, tmp_path):
    """`model.save_pretrained(folder)` and the processor beside it, no training run: the pipeline built from the folder
    is A3lign's, giving one result per clip of a 5-D batch and a named error for an empty list."""
    model = tester.build_model()
    folder = tmp_path / "mine"
    model.save_pretrained(folder)
    A3lignVideoProcessor.from_model_config(model.config).save_pretrained(folder)
    assert (
        json.loads((folder / "config.json").read_text())["custom_pipelines"]["video-classification"]["impl"]
        == "pipeline_a3lign.A3lignVideoClassificationPipeline"
    )
    assert {"pipeline_a3lign.py", "processing_a3lign.py", "decoding_a3lign.py", "faces_a3lign.py"} <= {
        path.name for path in folder.glob("*.py")
    }
    classify = pipeline("video-classification", model=str(folder), trust_remote_code=True)
    assert type(classify).__name__ == "A3lignVideoClassificationPipeline"
    batch = np.random.default_rng(0).integers(0, 256, (3, 5, 40, 40, 3), dtype=np.uint8)
    results = classify(batch)
    assert len(results) == 3 and all(len(result) == 3 for result in results)
    with pytest.raises(ValueError, match="no clip given: expected a clip or a non-empty list of clips"):
        classify([])
