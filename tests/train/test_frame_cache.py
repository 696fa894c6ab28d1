"""The frame-embedding cache: exact views, keys, resumable and split extraction, and training on it."""

import copy
import dataclasses
import shutil

import pytest
import torch
from transformers import TrainingArguments

from a3lign import A3lignVideoProcessor
from a3lign.data import ClipView, clip_pixels, load_split, synthesize
from a3lign.train.arguments import BAPArguments
from a3lign.train.bap import BAPTrainer
from a3lign.train.frame_cache import CachedEmbeddings, CachedViews, FrameEmbeddingCache


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
    stored = cache.open()
    embeddings = torch.stack([stored.embeddings(i, slice(None)) for i in range(len(stored))])
    assert embeddings.shape == (7, 3, 4, 16)
    assert stored.labels.tolist() == [c.label for c in clips]
    with torch.no_grad():
        for index in (0, 4, 6):
            for view in range(3):
                expected = model.get_frame_embeddings(cache.view_pixels(index, view)[None])[0]
                torch.testing.assert_close(embeddings[index, view], expected, atol=2e-3, rtol=2e-3)
        # View 0 is the pipeline's view; training views are the run's training view, seeded.
        pipeline = model.get_frame_embeddings(processor([str(clips[4].path)])["pixel_values_videos"])[0]
        torch.testing.assert_close(embeddings[4, 0], pipeline, atol=2e-3, rtol=2e-3)
    assert not torch.equal(embeddings[:, 1], embeddings[:, 2])  # training views differ from each other
    evaluation, training = CachedViews(stored, False), CachedViews(stored, True)
    assert torch.equal(evaluation[2]["frame_embeddings"], embeddings[2, 0])
    drawn = {v for _ in range(30) for v in (1, 2) if torch.equal(training[2]["frame_embeddings"], embeddings[2, v])}
    assert drawn == {1, 2}  # training draws among the training views only (view 0 never matches them)


def test_cached_training_views_follow_the_run_options(tmp_path, clips, setup):
    """--train_flip false / --train_augment false reach the cache: its training views are drawn that way."""
    model, processor = setup
    for training in (ClipView(random_segments=True, augment=True, flip=False), ClipView(random_segments=True)):
        cache = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=1, training=training, seed=2)
        generator = torch.Generator().manual_seed(2 * 1_000_003 + 3 * 1_009 + 1)
        assert torch.equal(cache.view_pixels(3, 1), clip_pixels(processor, clips[3].path, training, generator))
    flipped = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=1, seed=2)
    unflipped = FrameEmbeddingCache(
        tmp_path,
        model,
        processor,
        clips,
        training_views=1,
        seed=2,
        training=ClipView(random_segments=True, augment=True, flip=False),
    )
    assert flipped.path != unflipped.path
    # Over the clips, the default training view flips some of them; the unflipped one never does.
    flips = [not torch.equal(flipped.view_pixels(i, 1), unflipped.view_pixels(i, 1)) for i in range(len(clips))]
    assert any(flips)


def test_cache_is_read_lazily(tmp_path, clips, setup):
    """Opening a cache reads the labels only; rows are read when asked for, and pickling (DataLoader
    workers) carries no open file."""
    import pickle

    model, processor = setup
    cache = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=1, shard_size=2)
    cache.extract()
    stored = cache.open()
    assert isinstance(stored, CachedEmbeddings) and len(stored) == 7 and stored.num_views == 2
    copy_ = pickle.loads(pickle.dumps(stored))
    assert torch.equal(copy_.embeddings(5, 1), stored.embeddings(5, 1))


def test_key_separates_every_setting(tmp_path, clips, tester, setup):
    model, processor = setup
    base = FrameEmbeddingCache(tmp_path, model, processor, clips).path
    assert FrameEmbeddingCache(tmp_path, model, processor, clips).path == base
    other_frames = tester.build_model(num_frames=8, id2label={i: str(i) for i in range(7)})
    other_clip = tester.build_model(seed=3, num_frames=4, id2label={i: str(i) for i in range(7)})
    variants = [
        FrameEmbeddingCache(
            tmp_path, other_frames, A3lignVideoProcessor.from_model_config(other_frames.config), clips
        ),
        FrameEmbeddingCache(tmp_path, other_clip, processor, clips),  # other CLIP weights
        FrameEmbeddingCache(
            tmp_path, model, A3lignVideoProcessor.from_model_config(model.config, size={"shortest_edge": 40}), clips
        ),
        FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=3),
        FrameEmbeddingCache(tmp_path, model, processor, clips, seed=1),
        FrameEmbeddingCache(tmp_path, model, processor, clips[:-1]),
        FrameEmbeddingCache(tmp_path, model, processor, clips, dtype=torch.bfloat16),
        FrameEmbeddingCache(tmp_path, model, processor, clips, views=[ClipView(), ClipView(segment_offset=0.25)]),
    ]
    assert len({base, *(v.path for v in variants)}) == 1 + len(variants)


def test_key_ignores_how_paths_are_spelled(tmp_path, clips, setup, monkeypatch):
    model, processor = setup
    base = FrameEmbeddingCache(tmp_path, model, processor, clips).path
    monkeypatch.setattr(model.config, "clip_name_or_path", "./elsewhere/../clip")  # same weights, another spelling
    respelled = [dataclasses.replace(c, path=c.path.parent / "." / c.path.name) for c in clips]
    assert FrameEmbeddingCache(tmp_path, model, processor, respelled).path == base
    copy = tmp_path / "copy"  # the same files copied elsewhere (faces re-cropped, say): another dataset
    shutil.copytree(clips[0].path.parent.parent, copy / "x")
    moved = [dataclasses.replace(c, path=copy / "x" / c.path.relative_to(clips[0].path.parent.parent)) for c in clips]
    assert FrameEmbeddingCache(tmp_path, model, processor, moved).path != base


def test_key_is_the_same_for_one_clip_saved_in_two_folders(tmp_path, clips, tiny_clip_dir):
    """`from_pretrained` writes the folder into the CLIP config (`_name_or_path`): the key must not see it."""
    from a3lign import A3lignModel

    moved = tmp_path / "elsewhere" / "clip"
    shutil.copytree(tiny_clip_dir, moved)
    labels = {i: str(i) for i in range(7)}
    caches = []
    for folder in (tiny_clip_dir, moved):
        model = A3lignModel.from_clip_pretrained(folder, id2label=labels, num_frames=4, mat_tokens=8).eval()
        assert model.config.clip_config._name_or_path == str(folder)  # what made two keys before
        processor = A3lignVideoProcessor.from_model_config(model.config)
        caches.append(FrameEmbeddingCache(tmp_path, model, processor, clips))
    assert caches[0].path == caches[1].path


def test_extraction_resumes_and_splits_across_processes(tmp_path, clips, setup):
    model, processor = setup
    whole = FrameEmbeddingCache(tmp_path / "one", model, processor, clips, training_views=1, shard_size=2)
    whole.extract()
    split = FrameEmbeddingCache(tmp_path / "two", model, processor, clips, training_views=1, shard_size=2)
    assert split.extract(rank=0, world_size=2) == 2 and split.extract(rank=1, world_size=2) == 2
    for index in range(7):
        assert torch.equal(split.open().embeddings(index, slice(None)), whole.open().embeddings(index, slice(None)))
    split.shard_path(1).unlink()  # an interrupted run
    with pytest.raises(FileNotFoundError, match=r"lacks shards \[1\]"):
        split.open()
    assert split.extract() == 1 and split.extract() == 0


def test_training_on_cached_embeddings_matches_training_on_pixels(tmp_path, clips, setup):
    model, processor = setup
    cache = FrameEmbeddingCache(tmp_path, model, processor, clips, training_views=1, seed=5)
    cache.extract()
    stored = cache.open()
    embeddings = torch.stack([stored.embeddings(i, slice(None)) for i in range(len(stored))])
    # The same views both ways: view 1 as pixels, and as cached embeddings.
    pixels = [{"pixel_values_videos": cache.view_pixels(i, 1), "labels": c.label} for i, c in enumerate(clips)]
    cached = [{"frame_embeddings": embeddings[i, 1], "labels": c.label} for i, c in enumerate(clips)]
    bap = BAPArguments(
        stage_epochs=[1, 1, 1], mat_learning_rate=0.05, dynamic_learning_rate=0.05, stage_warmup_ratio=0.0
    )
    trained = {}
    for name, dataset in (("pixels", pixels), ("cached", cached)):
        args = TrainingArguments(
            output_dir=str(tmp_path / name),
            per_device_train_batch_size=4,
            num_train_epochs=3,
            use_cpu=True,
            save_strategy="no",
            report_to=[],
            optim="sgd",
            seed=0,
            disable_tqdm=True,
            remove_unused_columns=False,
        )
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


def test_frozen_work_runs_in_the_training_precision(tmp_path, clips, setup):
    """Extraction under --bf16 runs the tower under bf16 autocast (what the run trains with), batched, and
    the precision is part of the cache key."""
    from a3lign.train.frame_cache import frame_embeddings

    model, processor = setup
    pixels = torch.stack([processor([str(c.path)])["pixel_values_videos"][0] for c in clips[:3]])
    fp32 = torch.cat(list(frame_embeddings(model, [pixels])))
    bf16 = torch.cat(list(frame_embeddings(model, [pixels], torch.bfloat16)))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model.get_frame_embeddings(pixels).float()
    assert torch.equal(bf16, expected) and not torch.equal(bf16, fp32)
    cache = FrameEmbeddingCache(tmp_path, model, processor, clips[:3], dtype=torch.bfloat16)
    cache.extract(batch_size=3)
    stored = cache.open()
    torch.testing.assert_close(stored.embeddings(1, 0), expected[1].half().float(), atol=0, rtol=0)
