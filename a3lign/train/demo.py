"""The demo (`a3lign demo`, `make demo`): the main job on the embedded default data, end to end.

1. generate the synthetic dynamic-expression set (real mp4 files and split files);
2. build a small randomly initialised CLIP, frozen as always (nothing can be downloaded on the build
   machines; `--clip_model` / `make demo CLIP=...` names a real checkpoint instead);
3. train A3lign-DFER through the three BAP stages with `a3lign train`'s settings in configs/synthetic.yaml,
   on frame embeddings extracted once (the frozen tower's output for 4 augmented views and the
   evaluation view of each clip: `--frame_cache_dir`);
4. print UAR / WAR after each stage and with shuffled test frames (the paper's Table 5), and the recall
   of Surprise and Fear, the pair that differs only in frame order;
5. classify two held-out clips with `pipeline("video-classification")` from the saved model folder.

With several `seeds` (`a3lign demo --seeds 42,43,44`; the default is one, transformers' default 42), steps 3-4
run once per training seed (`--seed`: the fresh parts' initialisation, the cached views' draws, the batch order; the
data and the CLIP stay seeded 0), and a last table gives each figure's mean and range over the seeds: what the demo
shows, rather than one run's digits.
"""

import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, TrainingArguments, pipeline

from ..data import load_split, synthesize
from ..data.synthetic import ORDER_ONLY_PAIR
from .arguments import parse_arguments
from .evaluation import ShuffledFrames, evaluate_model
from .run import RunResult, run_folds

# The demo's settings ship inside the package (configs/synthetic.yaml links to them), so an installed
# package runs its own demo.
SYNTHETIC_CONFIG = Path(__file__).resolve().with_name("synthetic.yaml")


@dataclass
class DemoResult:
    """The demo's (first seed's) run, its figures on the test split with shuffled frames, and every seed's table
    rows (`rows[seed][row] = [UAR, WAR, Surprise recall, Fear recall]`)."""

    run: RunResult
    shuffled: dict
    rows: dict[int, dict[str, list[float]]]


HEADER = "| after | UAR (%) | WAR (%) | Surprise recall | Fear recall |\n|---|---|---|---|---|"


def small_clip_config() -> CLIPConfig:
    """A random CLIP whose frozen features still carry the synthetic faces' expressions: one wide vision
    block over 8-pixel patches of 56-pixel frames, a 2-block text tower (measured choices)."""
    return CLIPConfig(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4),
        vision_config=dict(
            hidden_size=384,
            intermediate_size=768,
            num_hidden_layers=1,
            num_attention_heads=4,
            image_size=56,
            patch_size=8,
        ),
        projection_dim=384,
    )


def table_rows(run: RunResult, shuffled: dict) -> dict[str, list[float]]:
    """The demo table's rows of one run: `{row: [UAR, WAR, Surprise recall, Fear recall]}`."""
    labels = run.summary.labels
    pair = [labels.index(name) for name in ORDER_ONLY_PAIR]
    rows = {
        f"stage {stage} (epoch {result['epoch']})": [
            result["uar"],
            result["war"],
            *(result["recall"][name] for name in ORDER_ONLY_PAIR),
        ]
        for stage, result in run.summary.per_stage.items()
    }
    rows["stage 3, shuffled test frames"] = [
        shuffled["uar"],
        shuffled["war"],
        *(shuffled["per_class_recall"][k] for k in pair),
    ]
    return rows


def format_table(rows: dict[str, list[float]]) -> str:
    lines = [HEADER]
    for name, (uar, war, first, second) in rows.items():
        lines.append(f"| {name} | {uar:.1f} | {war:.1f} | {first:.0f} | {second:.0f} |")
    return "\n".join(lines)


def format_range_table(per_seed: dict[int, dict[str, list[float]]]) -> str:
    """Each figure over the seeds as `mean (min-max)`."""
    runs = list(per_seed.values())
    lines = [HEADER.replace("| after |", f"| after ({len(runs)} seeds: mean (min-max)) |")]
    for name in runs[0]:
        cells = []
        for column, digits in zip(range(4), (1, 1, 0, 0)):
            values = [rows[name][column] for rows in runs]
            mean = sum(values) / len(values)
            cells.append(f"{mean:.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def run_demo(
    output: str | Path = "demo_output",
    clip_model: str | None = None,
    config: str | Path | None = None,
    clips_per_class: int = 80,
    test_clips_per_class: int = 20,
    train_flags: list[str] = (),
    seeds: list[int] = (TrainingArguments.seed,),
) -> DemoResult:
    """Run the demo into `output`; `train_flags` are extra `a3lign train` flags (they override the config); one
    training per seed of `seeds` (the first seed's model in `output/model`, the others' in `output/model-seed<s>`)."""
    started = time.time()
    output = Path(output)
    config = Path(config or SYNTHETIC_CONFIG)
    if not config.exists():
        raise FileNotFoundError(f"demo config '{config}' does not exist: expected a YAML of a3lign train flags")
    if not seeds:
        raise ValueError("seeds is empty: expected at least one training seed, e.g. 0")

    data = output / "data"
    if not (data / "test.csv").exists():
        synthesize(data, clips_per_class, test_clips_per_class, seed=0)
    print(f"[{time.time() - started:5.0f}s] synthetic set in {data}")
    image_flags = [] if clip_model is None else ["--image_size", "112"]
    if clip_model is None:
        torch.manual_seed(0)
        clip_model = output / "random-clip"
        CLIPModel(small_clip_config()).save_pretrained(clip_model)

    per_seed, first = {}, None
    for seed in seeds:
        model_dir = output / ("model" if seed == seeds[0] else f"model-seed{seed}")
        arguments = parse_arguments(
            [
                str(config),
                "--data_root",
                str(data),
                "--clip_model",
                str(clip_model),
                "--output_dir",
                str(model_dir),
                "--frame_cache_dir",
                str(output / "frame_cache"),
                "--disable_tqdm",
                "true",
                "--seed",
                str(seed),
                *image_flags,
                *train_flags,
            ]
        )
        run = run_folds(*arguments, folds=arguments[1].folds())[0]
        print(f"[{time.time() - started:5.0f}s] trained (seed {seed}); model folder {model_dir}")
        # The test split's cached frame embeddings, frames shuffled: no decoding, no vision tower again.
        shuffled = evaluate_model(run.model, ShuffledFrames(run.eval_dataset, seed=0), batch_size=32)
        per_seed[seed] = table_rows(run, shuffled)
        print(f"\nseed {seed}:\n{format_table(per_seed[seed])}\n")
        first = first or (run, shuffled)
    if len(seeds) > 1:
        print(format_range_table(per_seed) + "\n")

    run, shuffled = first
    report = load_split("synthetic", data, "test")
    labels = run.summary.labels
    classify = pipeline("video-classification", model=str(output / "model"), trust_remote_code=True)
    for name in ORDER_ONLY_PAIR:
        clip = next(c for c in report.clips if labels[c.label] == name)
        top = classify(str(clip.path), top_k=3)
        print(
            f"pipeline on held-out {clip.clip_id} ({name}): "
            + ", ".join(f"{r['label']} {r['score']:.2f}" for r in top)
        )
    print(f"[{time.time() - started:5.0f}s] done")
    return DemoResult(run=run, shuffled=shuffled, rows=per_seed)
