"""A run folder's model card (`README.md`), ready for the Hub: metadata (`pipeline_tag`, `library_name`, the base CLIP,
a `model-index` with UAR and WAR, single and multi-view), the data and fold, the schedule, per-class recall, the
confusion matrix, how to load the model and the limits of emotion recognition.

The metadata is written by `huggingface_hub.ModelCardData`, the Hub's own schema: UAR is `recall` with
`average: macro`, WAR is `accuracy`, both in percent on the test split, as the field reports them.
"""

import re
from pathlib import Path

from huggingface_hub import EvalResult, ModelCardData

from .summary import RunSummary

# The names the papers use; other datasets (csv, folder, synthetic, ...) keep their flag's name.
DATASET_TITLES = {"dfew": "DFEW", "ferv39k": "FERV39k", "mafw": "MAFW"}
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # `owner/name`: a model on the Hub (a relative folder may look alike)

LIMITS = """## Limits

- **Faces only.** The model reads the face in a short clip ({num_frames} frames sampled over it). It was trained on
  clips already cut to the face (as DFEW, FERV39k and MAFW ship them); raw footage must be cut to the face first
  (`face_crop=True` in the processor, `a3lign predict --face_crop true`), and a clip without a visible face gets a
  guess, not an answer.
- **Acted, then in the wild.** DFEW, FERV39k and MAFW are clips from films and TV: expressions performed by actors,
  filmed in varied light and poses. Posed laboratory sets, webcams, children, or cultures under-represented in
  films look different; expect lower recall there, and measure on your own data before relying on it.
- **Expressions, not feelings.** The labels are what annotators perceived in a face, not what the person felt.
  Classes with few training clips (see the per-class recall above) are recognised far less reliably, and
  recall may differ between groups of people in ways these test sets do not measure.
- **Not for decisions about people.** Do not use it to hire, grade, police, diagnose, price or score anyone,
  or to monitor people without their consent (emotion recognition at work and in education is prohibited in
  the EU, AI Act article 5). The datasets' licences are for non-commercial research: check them before any
  other use of these weights.
"""


def dataset_title(run: RunSummary) -> str:
    return DATASET_TITLES.get(run.dataset, run.dataset)


def recall_table(result: dict, labels: list[str]) -> str:
    lines = ["| class | recall (%) |", "|---|---|"]
    lines += [f"| {name} | {value:.2f} |" for name, value in zip(labels, result["per_class_recall"])]
    return "\n".join(lines)


def skipped_line(run: RunSummary) -> str:
    """What the readers left out, per split, and clips replaced after failing to decode during the run."""
    skipped = run.skipped or {}
    parts = [f"{split} {count}" for split, count in skipped.items()]
    failures = run.decode_failures or []
    if failures:
        parts.append(
            f"{len(failures)} replaced after failing to decode ({', '.join(f['clip_id'] for f in failures[:5])}"
            f"{', ...' if len(failures) > 5 else ''})"
        )
    return ", ".join(parts) or "none"


def results_table(run: RunSummary) -> str:
    """UAR / WAR of the single (pipeline) view, and of multi-view testing beside it where computed; with a MAT started
    from text, the model before training (CLIP's zero-shot classifier of the descriptions) first."""
    lines = ["| test views | UAR (%) | WAR (%) |", "|---|---|---|"]
    if zero := run.zero_shot:
        lines.append(f"| before training: CLIP zero-shot, 1 view | {zero['uar']:.2f} | {zero['war']:.2f} |")
    lines.append(f"| 1 (the pipeline's) | {run.final['uar']:.2f} | {run.final['war']:.2f} |")
    if multi := run.multi_view:
        lines.append(f"| {multi['views']} (logits averaged) | {multi['uar']:.2f} | {multi['war']:.2f} |")
    return "\n".join(lines)


def evaluation_results(run: RunSummary) -> list[EvalResult]:
    """The `model-index` entries: UAR (macro recall) and WAR (accuracy), one view and, where computed, multi-view. One
    result (huggingface_hub keys a result on task, dataset, config and split); the views differ in the metrics'
    `args.test_views`, so nothing keyed on a metric's type and arguments mixes them."""
    dataset = dict(
        task_type="video-classification",
        task_name="Dynamic facial expression recognition",
        dataset_type=run.dataset,
        dataset_name=dataset_title(run),
        dataset_split="test",
        dataset_config=f"fold{run.fold}" if run.fold else None,
    )
    views = [("1x1", run.final)]
    if run.multi_view:
        views.append((run.multi_view["views"], run.multi_view))
    results = []
    for views_name, figures in views:
        name = "1 view" if views_name == "1x1" else f"{views_name} views"
        results.append(
            EvalResult(
                **dataset,
                metric_type="recall",
                metric_name=f"UAR ({name})",
                metric_args={"average": "macro", "test_views": views_name},
                metric_value=round(figures["uar"], 2),
            )
        )
        results.append(
            EvalResult(
                **dataset,
                metric_type="accuracy",
                metric_name=f"WAR ({name})",
                metric_args={"test_views": views_name},
                metric_value=round(figures["war"], 2),
            )
        )
    return results


def card_metadata(run: RunSummary) -> ModelCardData:
    """The card's YAML header; `base_model` only where the CLIP is named by its Hub id (not a local folder)."""
    clip = run.clip_model
    return ModelCardData(
        model_name=run.name,
        library_name="transformers",
        pipeline_tag="video-classification",
        base_model=clip if HUB_ID.match(clip) and not Path(clip).exists() else None,
        tags=[
            "a3lign",
            "dynamic-facial-expression-recognition",
            "emotion-recognition",
            "clip",
            "video-classification",
        ],
        metrics=["recall", "accuracy"],
        eval_results=evaluation_results(run),
    )


def balance_line(run: RunSummary) -> str:
    """The class-balance option and the training split's class prior, in words."""
    option = run.class_balance
    described = {
        "none": "plain cross-entropy",
        "balanced_sampling": "class-balanced sampling",
        "logit_adjustment": f"logit adjustment (tau {run.logit_adjustment_tau})",
    }.get(option, option)
    prior = run.class_prior or {}
    shares = ", ".join(f"{label} {share:.1%}" for label, share in prior.items())
    return f"{described}; class prior of the training split: {shares}" if shares else described


def write_model_card(path: Path, run: RunSummary) -> None:
    """The run's card (see the module docstring); `run` is the run's summary (`a3lign.train.run`)."""
    final, best = run.final, run.best_epoch
    best_line = (
        f"Best epoch on the test split (reported beside, not selected): epoch {best['epoch']}, "
        f"UAR {best['uar']:.2f} / WAR {best['war']:.2f}."
        if best
        else ""
    )
    fold = f", fold {run.fold}" if run.fold else ""
    repo = run.hub_model_id or "path/to/this/folder"
    text = f"""---
{card_metadata(run).to_yaml()}
---

# A3lign-DFER on {dataset_title(run)}{fold}

A3lign-DFER (Tao et al., arXiv 2403.04294) classifies the emotion in a short face video: a frozen CLIP
(`{run.clip_model}`) with Multi-Dimensional Alignment Tokens, text and video dynamic encoders and a Joint Dynamic
Alignment Synchronizer, trained with the three-stage Bidirectional Alignment Training Paradigm (BAP). Classes:
{", ".join(run.labels)}.

## Training

- Data: `{run.dataset}`{fold} ({run.train_clips} training clips, {run.test_clips} test clips; skipped as
  invalid: {skipped_line(run)}).
- Stages: {run.stage_epochs[0]} + {run.stage_epochs[1]} + {run.stage_epochs[2]} epochs; peak learning rates
  MAT {run.learning_rates["mat"]:g}, dynamic encoders {run.learning_rates["dynamic"]:g} (the JAS at
  {run.jas_learning_rate_ratio:g}x that, after {run.jas_frozen_ratio:.0%} of stage 3); optimizer
  `{run.optim}`, batch {run.total_batch_size}.
- LoRA on the CLIP towers: {run.lora or "none (CLIP frozen, as in the paper)"}.
- Rare classes: {balance_line(run)}.

## Results (test split, last epoch: the model in this folder)

{results_table(run)}

UAR: unweighted average recall (the mean of the per-class recalls); WAR: weighted average recall (accuracy).
{best_line}

{recall_table(final, run.labels)}

![confusion matrix](confusion_matrix.png)
![training curves](training_curves.png)

## How to use

```python
from transformers import pipeline
classify = pipeline("video-classification", model="{repo}", trust_remote_code=True)
classify("clip.mp4")  # [{{"label": ..., "score": ...}}, ...] for a video file, a frame folder or (T, H, W, 3) frames
```

The model (`AutoModelForVideoClassification`) and its processor (`AutoVideoProcessor`) load the same way, with
`trust_remote_code=True`: their code travels with the weights. With the `a3lign` package: `a3lign predict clip.mp4
--model {repo}` (a timeline of a long video with `--timeline`) and `a3lign app --model {repo}` (a browser demo).

{LIMITS.format(num_frames=run.num_frames)}"""
    path.write_text(text)


__all__ = ["write_model_card", "card_metadata", "evaluation_results", "results_table"]
