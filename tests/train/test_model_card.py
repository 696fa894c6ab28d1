"""Hub-ready runs: the model card parses with `huggingface_hub.ModelCard` and its `model-index` holds the run's
figures; `--push_to_hub` uploads weights, processor and code to a local folder standing in for the Hub, and the
pushed repository loads with the Auto classes and the pipeline; a Hub that cannot be reached stops the run first."""

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from huggingface_hub import HfApi, ModelCard, RepoUrl
from huggingface_hub.utils import filter_repo_objects
from huggingface_hub.utils._paths import DEFAULT_IGNORE_PATTERNS  # what upload_folder adds to the caller's
from transformers import AutoModelForVideoClassification, AutoVideoProcessor, pipeline

import a3lign
from a3lign.train.model_card import write_model_card
from a3lign.train.summary import RunSummary

from ..predict import tinted_clip, train_tinted_run
from . import run_summary


def model_index(card: ModelCard) -> dict:
    """`{metric name: value}` of the card's model-index, and the dataset entry they share (the views told apart by
    each metric's `args.test_views`, checked against its name)."""
    results = card.data.eval_results
    assert len({(r.dataset_name, r.dataset_config, r.dataset_split) for r in results}) == 1
    for result in results:
        views = result.metric_args["test_views"]
        assert result.metric_name.endswith("(1 view)" if views == "1x1" else f"({views} views)")
    return {r.metric_name: r.metric_value for r in results}, results[0]


def test_the_card_of_a_run_parses_and_holds_its_figures(tinted_run):
    card = ModelCard.load(tinted_run / "README.md")
    metrics = json.loads((tinted_run / "metrics.json").read_text())
    assert card.data.pipeline_tag == "video-classification" and card.data.library_name == "transformers"
    assert card.data.base_model is None  # a local CLIP folder is no Hub model
    figures, entry = model_index(card)
    assert figures == {"UAR (1 view)": round(metrics["uar"], 2), "WAR (1 view)": round(metrics["war"], 2)}
    assert entry.task_type == "video-classification" and entry.dataset_name == "csv" and entry.dataset_split == "test"
    recall = [r for r in card.data.eval_results if r.metric_name.startswith("UAR")][0]
    assert recall.metric_type == "recall" and recall.metric_args == {"average": "macro", "test_views": "1x1"}
    for name, value in metrics["per_class_recall"].items():
        assert f"| {name} | {value:.2f} |" in card.text
    assert "![confusion matrix](confusion_matrix.png)" in card.text and (tinted_run / "confusion_matrix.png").exists()
    assert (
        "trust_remote_code=True" in card.text
        and "## Limits" in card.text
        and "Not for decisions about people" in card.text
    )


def figures(**overrides) -> RunSummary:
    """A five-fold dataset's run summary, as `run_bap` gathers it, with multi-view testing."""
    run = {
        "name": "dfew-1",
        "hub_model_id": "me/dfew-1",
        "num_frames": 16,
        "dataset": "dfew",
        "fold": "1",
        "clip_model": "openai/clip-vit-large-patch14",
        "labels": ["Happy", "Sad"],
        "train_clips": 9356,
        "test_clips": 2341,
        "skipped": {"train": 0, "test": 0},
        "stage_epochs": [20, 20, 20],
        "learning_rates": {"mat": 1e-3, "dynamic": 1e-2},
        "jas_frozen_ratio": 0.3,
        "jas_learning_rate_ratio": 0.1,
        "optim": "sgd (momentum=0.9)",
        "total_batch_size": 48,
        "lora": None,
        "final": {"uar": 64.123, "war": 75.456, "per_class_recall": [80.0, 48.246]},
        "multi_view": {"views": "2x2", "uar": 65.5, "war": 76.25},
        "best_epoch": None,
    }
    return run_summary(**(run | overrides))


def test_the_card_of_a_dfew_fold_with_multi_view_testing(tmp_path):
    write_model_card(tmp_path / "README.md", figures())
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.base_model == "openai/clip-vit-large-patch14" and card.data.model_name == "dfew-1"
    values, entry = model_index(card)
    assert values == {"UAR (1 view)": 64.12, "WAR (1 view)": 75.46, "UAR (2x2 views)": 65.5, "WAR (2x2 views)": 76.25}
    assert (entry.dataset_name, entry.dataset_type, entry.dataset_config) == ("DFEW", "dfew", "fold1")
    # In the YAML: no two metrics share type and arguments (a leaderboard keyed on them never mixes the views).
    metrics = card.data.to_dict()["model-index"][0]["results"][0]["metrics"]
    assert len({(m["type"], tuple(sorted(m["args"].items()))) for m in metrics}) == 4
    assert metrics[0]["args"] == {"average": "macro", "test_views": "1x1"}
    assert card.text.lstrip().startswith("# A3lign-DFER on DFEW, fold 1")
    assert 'pipeline("video-classification", model="me/dfew-1", trust_remote_code=True)' in card.text
    assert "| 2x2 (logits averaged) | 65.50 | 76.25 |" in card.text and "| Sad | 48.25 |" in card.text


class LocalHub(HfApi):
    """Stands in for the Hub: repositories are folders under `ROOT`. `upload_folder` selects files as the real one
    does (`filter_repo_objects` with the caller's and huggingface_hub's default ignore patterns) and, as the Hub
    does, refuses a README whose metadata does not parse."""

    ROOT: Path = None
    USER = "tester"

    def create_repo(self, repo_id, *, private=None, exist_ok=False, **_):
        repo_id = repo_id if "/" in repo_id else f"{self.USER}/{repo_id}"
        (self.ROOT / repo_id).mkdir(parents=True, exist_ok=exist_ok)
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, commit_message=None, ignore_patterns=None, **_):
        folder = Path(folder_path)
        files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        ignore = [*(ignore_patterns or []), *DEFAULT_IGNORE_PATTERNS]
        for name in filter_repo_objects(files, ignore_patterns=ignore):
            if name == "README.md":
                ModelCard.load(folder / name)  # the Hub validates the card's YAML
            target = self.ROOT / repo_id / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / name, target)
        return SimpleNamespace(commit_url=f"file://{self.ROOT / repo_id} ({commit_message})")


def test_push_to_hub_uploads_what_loading_needs(tmp_path, monkeypatch):
    monkeypatch.setattr(LocalHub, "ROOT", tmp_path / "hub")
    monkeypatch.setattr("a3lign.train.hub.HfApi", LocalHub)
    run = train_tinted_run(
        tmp_path,
        "--push_to_hub",
        "true",
        "--hub_model_id",
        "tiny-dfer",
        "--save_strategy",
        "epoch",
        "--save_total_limit",
        "1",
    )
    assert list(run.glob("checkpoint-*")), "the run kept a checkpoint locally"
    repo = tmp_path / "hub" / "tester" / "tiny-dfer"
    pushed = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert {
        "config.json",
        "model.safetensors",
        "video_preprocessor_config.json",
        "configuration_a3lign.py",
        "modeling_a3lign.py",
        "processing_a3lign.py",
        "decoding_a3lign.py",
        "faces_a3lign.py",
        "pipeline_a3lign.py",
        "README.md",
        "metrics.json",
        "confusion_matrix.png",
        "training_curves.png",
    } <= pushed
    assert not [name for name in pushed if name.startswith("checkpoint-")]

    card = ModelCard.load(repo / "README.md")  # the card knows where it lives
    assert 'model="tester/tiny-dfer"' in card.text and card.data.model_name == "tiny-dfer"
    AutoModelForVideoClassification.from_pretrained(repo, trust_remote_code=True).eval()  # loads from the repo
    processor = AutoVideoProcessor.from_pretrained(repo, trust_remote_code=True)
    package = Path(a3lign.__file__).parent
    for code in ("configuration_a3lign.py", "modeling_a3lign.py", "processing_a3lign.py", "pipeline_a3lign.py"):
        assert (repo / code).read_text() == (
            package / code
        ).read_text()  # loading without the package: test_hf_contract
    classify = pipeline("video-classification", model=str(repo), trust_remote_code=True)
    for label in ("Happy", "Sad"):
        assert classify(tinted_clip(label, seed=4242))[0]["label"] == label
    assert processor.to_dict() == AutoVideoProcessor.from_pretrained(run, trust_remote_code=True).to_dict()


def test_a_hub_that_cannot_be_reached_stops_the_run_before_training(tmp_path):
    # HF_HUB_OFFLINE=1 (the suite's setting): huggingface_hub refuses the request; nothing is trained.
    with pytest.raises(RuntimeError, match="Hub repository 'tiny-dfer' cannot be created or reached"):
        train_tinted_run(tmp_path, "--push_to_hub", "true", "--hub_model_id", "tiny-dfer")
    assert not (tmp_path / "run" / "metrics.json").exists() and not list((tmp_path / "run").glob("checkpoint-*"))


def test_hub_strategy_is_refused_not_ignored(tmp_path):
    from a3lign.train.arguments import A3lignTrainingArguments

    with pytest.raises(ValueError, match="hub_strategy='checkpoint' is not used by BAP"):
        A3lignTrainingArguments(output_dir=str(tmp_path), hub_strategy="checkpoint")


def test_each_fold_of_a_five_fold_run_gets_its_own_repository(tmp_path):
    from a3lign.train.hub import hub_repo_id

    args = SimpleNamespace(hub_model_id=None, output_dir=str(tmp_path / "runs" / "dfew"))
    assert hub_repo_id(args) == "dfew" and hub_repo_id(args, "3", several_folds=True) == "dfew-fold-3"
    args.hub_model_id = "me/a3lign-dfew"
    assert hub_repo_id(args, "3", several_folds=True) == "me/a3lign-dfew-fold-3"


def test_a_hub_revision_is_created_before_training_and_named_on_failure(tmp_path, monkeypatch):
    from a3lign.train.hub import HubPush

    branches = []

    class Branching(LocalHub):
        def create_branch(self, repo_id, *, branch, exist_ok=False, **_):
            if branch == "taken":
                raise PermissionError("not allowed")
            branches.append((repo_id, branch))

    monkeypatch.setattr(LocalHub, "ROOT", tmp_path / "hub")
    monkeypatch.setattr("a3lign.train.hub.HfApi", Branching)
    assert HubPush("tiny", revision="fold-1").create() == "tester/tiny" and branches == [("tester/tiny", "fold-1")]
    with pytest.raises(RuntimeError, match="branch 'taken' of 'tester/tiny' cannot be created"):
        HubPush("tiny", revision="taken").create()

    class Failing(Branching):
        def upload_folder(self, **_):
            raise ConnectionError("network down")

    monkeypatch.setattr("a3lign.train.hub.HfApi", Failing)
    push = HubPush("tiny", revision="fold-1")
    push.create()
    with pytest.raises(
        RuntimeError, match=r"'.*run' is complete.*upload_folder\(repo_id='tester/tiny'.*revision='fold-1'\)"
    ):
        push.upload(tmp_path / "run", "message")
