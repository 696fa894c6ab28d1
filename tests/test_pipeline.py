"""pipeline("video-classification") and AutoVideoProcessor on a saved folder, in a fresh process
without the `a3lign` package: the folder alone must carry model, processor and code."""

import json
import os
import subprocess
import sys
import textwrap

import torch

from a3lign import A3lignModel, A3lignVideoProcessor

from .videos import noise_frames, write_frame_folder, write_video

FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys, torch
    sys.modules["a3lign"] = None  # not importable: everything comes from the folder
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline
    folder, clips, saved = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])

    processor = AutoVideoProcessor.from_pretrained(folder, trust_remote_code=True)
    assert type(processor).__module__.startswith("transformers_modules"), type(processor)
    loaded = json.loads(processor.to_json_string())
    for key, value in saved.items():
        assert loaded[key] == value, (key, loaded[key], value)

    classifier = pipeline("video-classification", model=folder, trust_remote_code=True)
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
    assert len(everything) == min(5, len(labels)) and abs(sum(r["score"] for r in classifier(clips[1], top_k=99)) - 1) < 1e-4
    print("PIPELINE-OK")
    """
)


def test_pipeline_and_processor_from_a_saved_folder(tester, tmp_path):
    torch.manual_seed(0)
    model = A3lignModel(tester.get_config(num_frames=6, id2label={0: "calm", 1: "joy", 2: "fear"}, bap_stage=3))
    # Non-default settings, so that the round trip is tested on every one of them.
    processor = A3lignVideoProcessor.from_model_config(model.config, size={"shortest_edge": 40}, image_mean=[0.5, 0.4, 0.3])
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    assert (folder / "video_preprocessor_config.json").exists() and (folder / "processing_a3lign.py").exists()
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
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "PIPELINE-OK" in result.stdout
