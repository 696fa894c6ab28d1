"""The frame-embedding cache: exact views, keys, resumable and split extraction, and training on it."""

import copy

import pytest
import torch
from transformers import TrainingArguments

from a3lign import A3lignVideoProcessor
from a3lign.data import load_split, synthesize
from a3lign.train.arguments import BAPArguments
from a3lign.train.bap import BAPTrainer
from a3lign.train.frame_cache import CachedViews, FrameEmbeddingCache, view_pixels


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = synthesize(tmp_path_factory.mktemp("synthetic"), clips_per_class=1, test_clips_per_class=1, seed=4)
    return load_split("synthetic", root, "train").clips  # 7 clips


@pytest.fixture
def setup(tester):
    model = tester.build_model(num_frames=4, id2label={i: str(i) for i in range(7)})
    return model, A3lignVideoProcessor.from_model_config(model.config)


def test_cached_views_are_the_views(tmp_path, clips, setup):
    model, processor = setup
    cache = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=2, seed=5, shard_size=3)
    assert cache.extract() == 3  # ceil(7 / 3) shards
    embeddings, labels = cache.load()
    assert embeddings.shape == (7, 3, 4, 16) and embeddings.dtype == torch.float16
    assert labels.tolist() == [c.label for c in clips]
    with torch.no_grad():
        for index in (0, 4, 6):
            for view in range(3):
                pixels = view_pixels(processor, clips[index].path, view, 5, index)
                expected = model.get_frame_embeddings(pixels[None])[0]
                torch.testing.assert_close(embeddings[index, view].float(), expected, atol=2e-3, rtol=2e-3)
    assert not torch.equal(embeddings[:, 1], embeddings[:, 2])  # training views differ from each other
    evaluation, training = CachedViews(embeddings, labels, False), CachedViews(embeddings, labels, True)
    assert torch.equal(evaluation[2]["frame_embeddings"], embeddings[2, 0].float())
    drawn = {v for _ in range(30) for v in (1, 2) if torch.equal(training[2]["frame_embeddings"], embeddings[2, v].float())}
    assert drawn == {1, 2}  # training draws among the training views only (view 0 never matches them)


def test_key_separates_every_setting(tmp_path, clips, tester, setup):
    model, processor = setup
    base = FrameEmbeddingCache(tmp_path, model, processor, clips).path
    assert FrameEmbeddingCache(tmp_path, model, processor, clips).path == base
    other_frames = tester.build_model(num_frames=8, id2label={i: str(i) for i in range(7)})
    other_clip = tester.build_model(seed=3, num_frames=4, id2label={i: str(i) for i in range(7)})
    variants = [
        FrameEmbeddingCache(tmp_path, other_frames, A3lignVideoProcessor.from_model_config(other_frames.config), clips),
        FrameEmbeddingCache(tmp_path, other_clip, processor, clips),  # other CLIP weights
        FrameEmbeddingCache(tmp_path, model, A3lignVideoProcessor.from_model_config(model.config, size={"shortest_edge": 40}), clips),
        FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=3),
        FrameEmbeddingCache(tmp_path, model, processor, clips, seed=1),
        FrameEmbeddingCache(tmp_path, model, processor, clips[:-1]),
    ]
    assert len({base, *(v.path for v in variants)}) == 1 + len(variants)


def test_extraction_resumes_and_splits_across_processes(tmp_path, clips, setup):
    model, processor = setup
    whole = FrameEmbeddingCache(tmp_path / "one", model, processor, clips, training_views=1, shard_size=2)
    whole.extract()
    split = FrameEmbeddingCache(tmp_path / "two", model, processor, clips, training_views=1, shard_size=2)
    assert split.extract(rank=0, world_size=2) == 2 and split.extract(rank=1, world_size=2) == 2
    torch.testing.assert_close(split.load()[0], whole.load()[0], atol=0, rtol=0)
    split.shard_path(1).unlink()  # an interrupted run
    with pytest.raises(FileNotFoundError, match=r"lacks shards \[1\]"):
        split.load()
    assert split.extract() == 1 and split.extract() == 0


def test_training_on_cached_embeddings_matches_training_on_pixels(tmp_path, clips, setup):
    model, processor = setup
    cache = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=1, seed=5)
    cache.extract()
    embeddings, labels = cache.load()
    # The same views both ways: view 1 as pixels, and as cached embeddings.
    pixels = [{"pixel_values_videos": view_pixels(processor, c.path, 1, 5, i), "labels": c.label} for i, c in enumerate(clips)]
    cached = [{"frame_embeddings": embeddings[i, 1].float(), "labels": c.label} for i, c in enumerate(clips)]
    bap = BAPArguments(stage_epochs=[1, 1, 1], stage_learning_rates=[0.05] * 3, stage_warmup_ratio=0.0)
    trained = {}
    for name, dataset in (("pixels", pixels), ("cached", cached)):
        args = TrainingArguments(output_dir=str(tmp_path / name), per_device_train_batch_size=4, num_train_epochs=3,
                                 use_cpu=True, save_strategy="no", report_to=[], optim="sgd", seed=0,
                                 disable_tqdm=True, remove_unused_columns=False)
        trainer = BAPTrainer(model=copy.deepcopy(model), args=args, bap=bap, train_dataset=dataset)
        trainer.train()
        trained[name] = trainer.model.eval()
    with torch.no_grad():
        evaluation = embeddings[:, 0].float()
        from_pixels = trained["pixels"](frame_embeddings=evaluation).logits
        from_cache = trained["cached"](frame_embeddings=evaluation).logits
        untrained = model.eval()(frame_embeddings=evaluation).logits
    assert (from_pixels - untrained).abs().max() > 0.1  # training moved the logits ...
    torch.testing.assert_close(from_cache, from_pixels, atol=5e-3, rtol=5e-3)  # ... the same way (fp16 cache)
