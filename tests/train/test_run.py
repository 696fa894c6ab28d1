"""BAP runs end to end (`a3lign train`, what train_bap.py runs): outputs, YAML, tensorboard, multi-process
equality, LoRA, evaluation, folds."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoModelForVideoClassification, TrainerCallback, TrainingArguments, pipeline

from a3lign import A3lignModel, A3lignVideoProcessor
from a3lign.cli.evaluate import main as evaluate_cli
from a3lign.cli.train import main as train_cli
from a3lign.data import DFEW_LABELS, synthesize
from a3lign.train.arguments import BAPArguments, ModelArguments, parse_arguments
from a3lign.train.bap import BAPTrainer
from a3lign.train.run import build_model, save_model_folder

from ..videos import noise_frames, write_frame_folder
from .test_bap import PixelClips

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """28 training clips (4 per class) and 21 test clips (3 per class): batches of 4 divide the training set."""
    return synthesize(tmp_path_factory.mktemp("synthetic"), clips_per_class=4, test_clips_per_class=3, seed=3)


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPModel

    from ..conftest import tiny_clip_config

    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("clip") / "tiny-clip"
    CLIPModel(tiny_clip_config()).save_pretrained(path)
    return path


def common_flags(data_root, clip_dir, dataset="synthetic"):
    return [
        "--dataset",
        dataset,
        "--data_root",
        str(data_root),
        "--clip_model",
        str(clip_dir),
        "--image_size",
        "32",
        "--num_frames",
        "4",
        "--mat_sentences",
        "2",
        "--mat_tokens",
        "5",
        "--mat_learning_rate",
        "0.01",
        "--dynamic_learning_rate",
        "0.01",
        "--dataloader_num_workers",
        "0",
        "--use_cpu",
        "true",
        "--disable_tqdm",
        "true",
        "--config_overrides",
        '{"dynamic_dropout": 0.0}',
    ]


def test_train_bap_from_yaml_writes_a_complete_run_folder(tmp_path, synthetic, clip_dir):
    config = tmp_path / "run.yaml"
    config.write_text(
        "stage_epochs: [1, 1, 1]\nper_device_train_batch_size: 4\nsave_total_limit: 1\nreport_to: tensorboard\n"
        "train_augment: true\n"
    )
    out = tmp_path / "run"
    runs = train_cli([str(config), *common_flags(synthetic, clip_dir), "--output_dir", str(out)])
    run = runs[0].figures
    assert set(run["per_stage"]) == {1, 2, 3} and run["train_clips"] == 28 and run["test_clips"] == 21

    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["uar"] <= 100 and 0 <= metrics["war"] <= 100
    assert list(metrics["per_class_recall"]) == list(DFEW_LABELS)
    assert metrics["num_test_clips"] == 21 and metrics["stage_epochs"] == [1, 1, 1]
    # The last epoch is the result: the final figures are the epoch-3 evaluation's.
    assert metrics["uar"] == pytest.approx(run["per_stage"][3]["uar"])
    card = (out / "README.md").read_text()
    assert f"| {metrics['uar']:.2f} | {metrics['war']:.2f} |" in card and "Best epoch" in card and "| Fear |" in card
    for png in ("confusion_matrix.png", "training_curves.png"):
        assert (out / png).read_bytes()[:8] == PNG
    checkpoints = list(out.glob("checkpoint-*"))
    assert len(checkpoints) == 1  # retention limit
    assert (checkpoints[0] / "video_preprocessor_config.json").exists()  # the processor travels with checkpoints
    # ...and the pipeline: a checkpoint classifies as the final folder does, one result per clip.
    classify = pipeline("video-classification", model=str(checkpoints[0]), trust_remote_code=True)
    assert type(classify).__name__ == "A3lignVideoClassificationPipeline"
    clip = next(synthetic.rglob("*.mp4"))
    assert len(classify([str(clip), str(clip)])) == 2
    assert list(out.rglob("events.out.tfevents*")), "tensorboard wrote nothing"

    model = AutoModelForVideoClassification.from_pretrained(out)
    assert model.config.bap_stage == 3 and model.config.id2label == dict(enumerate(DFEW_LABELS))
    assert not torch.equal(model.frame_std, torch.ones_like(model.frame_std)), "frame statistics were not set"
    assert (out / "video_preprocessor_config.json").exists()

    # Evaluation on its own, in order and with shuffled frames (Table 5's protocol).
    plain = evaluate_cli(
        ["--model", str(out), "--dataset", "synthetic", "--data_root", str(synthetic), "--num_workers", "0"]
    )
    assert plain["num_clips"] == 21 and plain["uar"] == pytest.approx(metrics["uar"])
    shuffled = evaluate_cli(
        [
            "--model",
            str(out),
            "--dataset",
            "synthetic",
            "--data_root",
            str(synthetic),
            "--num_workers",
            "0",
            "--shuffle_frames",
        ]
    )
    assert shuffled["num_clips"] == 21 and (out / "eval_synthetic_shuffled.json").exists()
    # Multi-view testing (the default 2x2 of the run): the same figures from the run and from evaluate.
    assert metrics["multi_view"]["views"] == "2x2" and "| 2x2 (logits averaged) |" in card
    multi = evaluate_cli(
        [
            "--model",
            str(out),
            "--dataset",
            "synthetic",
            "--data_root",
            str(synthetic),
            "--num_workers",
            "0",
            "--test_views",
            "2x2",
        ]
    )
    assert multi["num_clips"] == 21 and multi["uar"] == pytest.approx(metrics["multi_view"]["uar"])


def test_model_folder_holds_the_matching_processor(tester, tmp_path):
    model = tester.build_model(image_size=64, num_frames=8)
    save_model_folder(model, A3lignVideoProcessor.from_model_config(model.config), tmp_path)
    loaded = A3lignVideoProcessor.from_pretrained(tmp_path)
    loaded.check_matches(model.config)
    assert (loaded.crop_size.height, loaded.num_frames) == (64, 8)
    with pytest.raises(ValueError, match="does not match the model"):
        save_model_folder(model, A3lignVideoProcessor(), tmp_path / "other")


def test_two_processes_match_one(tmp_path, synthetic, clip_dir):
    """DDP (gloo, CPU): identical weights on both ranks, equal to one process with the same global batch."""
    # SGD (the paper's): updates linear in the gradients. Adam turns float-level noise in gradients that
    # are exactly zero in theory (attention key biases) into learning-rate-sized steps; so does the stage-3
    # re-alignment's Adam (one and two processes end stage 2 a few ulps apart): it is off here.
    flags = [
        *common_flags(synthetic, clip_dir),
        "--stage3_realign_steps",
        "0",
        "--optim",
        "sgd",
        "--optim_args",
        "momentum=0.9",
        "--stage_epochs",
        "1",
        "1",
        "1",
        "--save_strategy",
        "no",
        "--train_random_segments",
        "false",
        "--train_augment",
        "false",
        "--report_to",
        "none",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    single, double = tmp_path / "single", tmp_path / "double"
    single.mkdir(), double.mkdir()
    driver = str(ROOT / "tests" / "train" / "ddp_driver.py")
    commands = {
        single: [
            sys.executable,
            driver,
            str(single),
            *flags,
            "--output_dir",
            str(single),
            "--per_device_train_batch_size",
            "4",
        ],
        double: [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            driver,
            str(double),
            *flags,
            "--output_dir",
            str(double),
            "--per_device_train_batch_size",
            "2",
            "--ddp_backend",
            "gloo",
        ],
    }
    for command in commands.values():
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
    rank0, rank1 = (torch.load(double / f"weights_rank{r}.pt") for r in (0, 1))
    alone = torch.load(single / "weights_rank0.pt")
    for name, value in rank0["weights"].items():
        assert torch.equal(value, rank1["weights"][name]), f"ranks differ in {name}"
        torch.testing.assert_close(value, alone["weights"][name], atol=2e-5, rtol=1e-4, msg=name)
    # Evaluation counted every one of the 21 test clips once (not padded, not dropped).
    assert sum(map(sum, rank0["final"]["confusion_matrix"])) == 21
    assert json.loads((double / "metrics.json").read_text())["num_test_clips"] == 21


class GroupSnapshots(TrainerCallback):
    def __init__(self):
        self.states = []

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        self.states.append({n: p.detach().clone() for n, p in model.named_parameters()})


def test_lora_trains_adapters_with_the_stages_and_merges(tmp_path, tester, clip_dir):
    model_args = ModelArguments(
        clip_model=str(clip_dir),
        image_size=32,
        num_frames=4,
        mat_sentences=2,
        mat_tokens=5,
        lora_r=2,
        lora_target="both",
        config_overrides='{"dynamic_dropout": 0.0}',
    )
    torch.manual_seed(0)
    model = build_model(model_args, {i: f"c{i}" for i in range(3)}, first_stage=1)
    bap = BAPArguments(
        stage_epochs=[1, 1, 1], mat_learning_rate=1e-2, dynamic_learning_rate=1e-2, stage_warmup_ratio=0.0
    )
    args = TrainingArguments(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_train_epochs=3,
        use_cpu=True,
        save_strategy="no",
        report_to=[],
        optim="adamw_torch",
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    trainer = BAPTrainer(model=model, args=args, bap=bap, train_dataset=PixelClips(8, model.config))
    snapshots = GroupSnapshots()
    trainer.add_callback(snapshots)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.train()
    states = [start] + snapshots.states

    def moved(epoch, predicate):
        return {n for n in states[0] if predicate(n) and not torch.equal(states[epoch][n], states[epoch + 1][n])}

    def kind(name):
        if "lora_" in name:
            return "text_lora" if "text_model" in name else "vision_lora"
        if ".original_module." in name:
            return "original"
        for group in ("mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas"):
            if f".{group}." in name:
                return group
        return "clip"

    expected = {
        0: {"mat", "text_dynamic_encoder", "text_lora"},
        1: {"video_dynamic_encoder", "vision_lora"},
        2: {"mat", "jas", "text_lora", "vision_lora"},
    }
    for epoch, groups in expected.items():
        assert {kind(n) for n in moved(epoch, lambda n: True)} == groups, epoch

    pixels = PixelClips(3, model.config, seed=5).pixels
    model.eval()
    with torch.no_grad():
        before = model(pixel_values_videos=pixels).logits
    merged = model.merge_and_unload()
    assert isinstance(merged, A3lignModel) and not any("lora_" in n for n, _ in merged.named_parameters())
    merged.save_pretrained(tmp_path / "merged")
    reloaded = AutoModel.from_pretrained(tmp_path / "merged").eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(pixel_values_videos=pixels).logits, before, atol=1e-4, rtol=1e-4)


def test_fold_all_trains_five_folds_and_writes_the_table(tmp_path, clip_dir):
    root = tmp_path / "DFEW"
    for split in ("train", "test"):
        folder = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
        folder.mkdir(parents=True)
        for fold in range(1, 6):
            rows = [(10 * fold + k + (50 if split == "test" else 0), k + 1) for k in range(7)]
            (folder / f"set_{fold}.csv").write_text(
                "video_name,label\n" + "".join(f"{v},{label}\n" for v, label in rows)
            )
            for video, _ in rows:
                write_frame_folder(
                    root / "Clip" / "clip_224x224" / f"{video:05d}", noise_frames(5, 32, 32, seed=video)
                )
    out = tmp_path / "folds"
    flags = common_flags(root, clip_dir, dataset="dfew")
    train_cli(
        [
            *flags,
            "--fold",
            "all",
            "--stage_epochs",
            "1",
            "0",
            "0",
            "--per_device_train_batch_size",
            "7",
            "--save_strategy",
            "no",
            "--output_dir",
            str(out),
        ]
    )
    table = json.loads((out / "folds.json").read_text())
    assert [f["fold"] for f in table["folds"]] == ["1", "2", "3", "4", "5"]
    assert table["mean"]["uar"] == pytest.approx(sum(f["uar"] for f in table["folds"]) / 5)
    assert "| mean ± std |" in (out / "folds.md").read_text()
    assert table["std"]["uar"] == pytest.approx(float(np.std([f["uar"] for f in table["folds"]], ddof=1)))
    assert all((out / f"fold_{k}" / "metrics.json").exists() for k in range(1, 6))
    with pytest.raises(SystemExit, match="--fold is required"):
        train_cli([*flags, "--output_dir", str(out)])


@pytest.mark.parametrize("name", ["dfew", "ferv39k", "mafw", "synthetic"])
def test_shipped_configs_parse(name, tmp_path):
    """configs/*.yaml stay true to the code: every key is a real argument."""
    model, data, _, bap, training = parse_arguments(
        [
            str(ROOT / "configs" / f"{name}.yaml"),
            "--data_root",
            "/data",
            "--clip_model",
            "clip",
            "--bf16",
            "false",
            "--output_dir",
            str(tmp_path),
        ]
    )
    assert data.dataset == name and bap.total_epochs > 0
    if name != "synthetic":  # the paper's settings, the nearest peer's SGD rates
        assert (
            bap.stage_epochs == [40, 30, 30]
            and training.optim == "sgd"
            and (model.image_size, model.num_frames) == (112, 16)
        )
        assert training.per_device_train_batch_size == 64 and training.optim_args == "momentum=0.9"
        assert bap.learning_rates(training.optim) == {"mat": 1e-3, "dynamic": 1e-2}
    else:  # the demo runs with the defaults a user gets: nothing about optimisation is overridden
        defaults = parse_arguments(
            ["--dataset", "synthetic", "--data_root", "/data", "--clip_model", "clip", "--output_dir", str(tmp_path)]
        )
        assert {k: v for k, v in vars(bap).items() if k != "stage_epochs"} == {
            k: v for k, v in vars(defaults[3]).items() if k != "stage_epochs"
        }
        for key in (
            "optim",
            "optim_args",
            "weight_decay",
            "learning_rate",
            "gradient_accumulation_steps",
            "lr_scheduler_type",
            "warmup_steps",
        ):
            assert getattr(training, key) == getattr(defaults[4], key), key
        assert model.config_overrides is None


def test_a_run_that_resumes_from_its_last_checkpoint_still_writes_its_results(tmp_path, synthetic, clip_dir):
    """Killed after its last save, a run resumed from that checkpoint evaluates and writes metrics.json (issue 11:
    it crashed in write_metrics); a truncated checkpoint is named; a finished run is not overwritten silently."""
    out = tmp_path / "run"
    flags = [
        *common_flags(synthetic, clip_dir),
        "--stage_epochs",
        "1",
        "1",
        "0",
        "--per_device_train_batch_size",
        "7",
        "--save_total_limit",
        "5",
        "--test_views",
        "1x1",
        "--output_dir",
        str(out),
    ]
    first = train_cli(flags)[0].figures
    with pytest.raises(ValueError, match="holds a finished run"):
        train_cli(flags)
    (out / "metrics.json").unlink()  # as if killed right after saving the last checkpoint
    last = max(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    resumed = train_cli([*flags, "--resume_from_checkpoint", str(last)])[0].figures
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["uar"] == pytest.approx(first["final"]["uar"]) and resumed["final"]["uar"] == pytest.approx(
        metrics["uar"]
    )

    weights = last / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"checkpoint file '.*model\.safetensors' cannot be read"):
        train_cli([*flags, "--resume_from_checkpoint", str(last)])
    train_cli([*flags, "--overwrite_output_dir", "true", "--stage_epochs", "1", "0", "0"])
    assert json.loads((out / "metrics.json").read_text())["stage_epochs"] == [1, 0, 0]


def test_an_interpolated_run_reports_stage_3_as_trained_beside_its_final_figures(tmp_path, synthetic, clip_dir):
    """--stage3_interpolation 0.5: metrics.json's `stage3_as_trained` is the plain run's final evaluation (the same
    training, not interpolated), its `uar` the interpolated model's, which is the saved one."""
    flags = [
        *common_flags(synthetic, clip_dir),
        "--stage_epochs",
        "1",
        "1",
        "2",
        "--per_device_train_batch_size",
        "7",
        "--save_strategy",
        "no",
        "--test_views",
        "1x1",
    ]
    train_cli([*flags, "--output_dir", str(tmp_path / "plain")])
    train_cli([*flags, "--output_dir", str(tmp_path / "wise"), "--stage3_interpolation", "0.5"])
    plain, wise = (json.loads((tmp_path / run / "metrics.json").read_text()) for run in ("plain", "wise"))
    assert plain["stage3_as_trained"] is None
    assert wise["stage3_as_trained"]["uar"] == pytest.approx(plain["uar"])
    assert wise["stage3_as_trained"]["per_class_recall"] == pytest.approx(plain["per_class_recall"], nan_ok=True)
    plain_model, wise_model = (A3lignModel.from_pretrained(tmp_path / run) for run in ("plain", "wise"))
    assert not torch.equal(plain_model.mat.tokens, wise_model.mat.tokens)  # the folder holds the interpolated MAT
    untouched = plain_model.video_dynamic_encoder.state_dict()  # stage 3 does not train it
    assert all(torch.equal(v, untouched[k]) for k, v in wise_model.video_dynamic_encoder.state_dict().items())


def test_an_unwritable_output_dir_fails_before_any_work(tmp_path, synthetic, clip_dir, monkeypatch):
    (tmp_path / "a_file").write_text("")
    import a3lign.train.run as run

    monkeypatch.setattr(run, "build_model", lambda *a, **k: pytest.fail("work started before the output check"))
    with pytest.raises(ValueError, match=r"output_dir '.*a_file/run' cannot be written"):
        train_cli([*common_flags(synthetic, clip_dir), "--output_dir", str(tmp_path / "a_file" / "run")])


def test_skipped_clips_are_counted_in_metrics_and_model_card(tmp_path, clip_dir):
    root = synthesize(tmp_path / "data", clips_per_class=1, test_clips_per_class=1, seed=5)
    with open(root / "train.csv", "a") as handle:
        handle.write("clips/train/missing.mp4,Happy\n")
    out = tmp_path / "run"
    train_cli(
        [
            *common_flags(root, clip_dir),
            "--stage_epochs",
            "1",
            "0",
            "0",
            "--save_strategy",
            "no",
            "--test_views",
            "1x1",
            "--output_dir",
            str(out),
        ]
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["skipped"] == {"train": 1, "test": 0} and metrics["train_clips"] == 7
    assert "skipped as\n  invalid: train 1, test 0" in (out / "README.md").read_text()


@pytest.mark.parametrize("cache", [False, True])
def test_a_clip_that_fails_to_decode_mid_run_is_replaced_counted_and_listed(tmp_path, clip_dir, cache):
    """Its header reads (so the split keeps it), its frames do not: the run replaces it by a class-mate, finishes,
    and lists it in metrics.json and the model card; --strict stops the run naming it."""
    from ..layouts import undecodable_video

    root = synthesize(tmp_path / "data", clips_per_class=2, test_clips_per_class=1, seed=6)
    undecodable_video(root / "clips" / "train" / "happy_0000.mp4")
    out = tmp_path / "run"
    flags = [
        *common_flags(root, clip_dir),
        "--stage_epochs",
        "1",
        "1",
        "0",
        "--save_strategy",
        "no",
        "--test_views",
        "1x1",
        "--output_dir",
        str(out),
        *(["--frame_cache_dir", str(tmp_path / "cache")] if cache else []),
    ]
    train_cli(flags)
    metrics = json.loads((out / "metrics.json").read_text())
    assert [(f["clip_id"], f["split"], f["substitute"]) for f in metrics["decode_failures"]] == [
        ("clips/train/happy_0000.mp4", "train", "clips/train/happy_0001.mp4")
    ]
    assert "1 replaced after failing to decode (clips/train/happy_0000.mp4)" in (out / "README.md").read_text()
    with pytest.raises(ValueError, match="happy_0000.mp4"):
        train_cli([*flags, "--strict", "true", "--overwrite_output_dir", "true"])


def test_an_empty_test_split_stops_the_run_before_training(tmp_path, clip_dir, monkeypatch):
    root = synthesize(tmp_path / "data", clips_per_class=1, test_clips_per_class=1, seed=7)
    (root / "test.csv").write_text("path,label\n")
    import a3lign.train.run as run

    monkeypatch.setattr(run, "build_model", lambda *a, **k: pytest.fail("training started on an empty test split"))
    with pytest.raises(ValueError, match="the test split of synthetic has no valid clips"):
        train_cli([*common_flags(root, clip_dir), "--output_dir", str(tmp_path / "run")])
    assert not (tmp_path / "run" / "metrics.json").exists()
