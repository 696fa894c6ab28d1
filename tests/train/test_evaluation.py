"""Evaluation helpers: Table 5's shuffled frames, and multi-view logits."""

import torch

from a3lign.train.evaluation import ShuffledFrames, view_averaged_logits


def coded(shape_after_frames, views=None):
    """16 frames whose values are their index, with the input's per-frame shape (and views in front)."""
    frames = torch.arange(16.0).view(16, *[1] * len(shape_after_frames)).expand(16, *shape_after_frames)
    return frames if views is None else frames.expand(views, *frames.shape)


def test_shuffled_frames_permutes_cached_embeddings_and_pixels():
    for key, views, per_frame in (
        ("frame_embeddings", None, (3,)),
        ("pixel_values_videos", None, (3, 2, 2)),
        ("frame_embeddings", 4, (3,)),
        ("pixel_values_videos", 2, (3, 2, 2)),
    ):
        frames = coded(per_frame, views)
        dataset = ShuffledFrames([{key: frames, "labels": 1}] * 2, seed=0)
        first, again, other = dataset[0][key], dataset[0][key], dataset[1][key]
        assert first.shape == frames.shape
        order = first.reshape(views or 1, 16, -1)[..., 0]  # each frame's index, per view
        assert sorted(order[0].tolist()) == list(range(16)) and not torch.equal(first, frames)
        assert torch.equal(first, again) and not torch.equal(first, other)  # fixed per clip, differs between clips
        assert all(torch.equal(order[0], view) for view in order)  # several views: one order for all


def test_multi_view_logits_are_the_views_average():
    class Model(torch.nn.Module):
        def forward(self, frame_embeddings):
            return type("Out", (), {"logits": frame_embeddings.mean(1)})()

    single = torch.randn(2, 4, 3)
    assert torch.equal(
        view_averaged_logits(Model(), {"frame_embeddings": single}, "cpu", torch.float32), single.mean(1)
    )
    views = torch.randn(2, 5, 4, 3)
    expected = views.mean(2).mean(1)
    torch.testing.assert_close(
        view_averaged_logits(Model(), {"frame_embeddings": views}, "cpu", torch.float32), expected
    )


def test_evaluation_runs_in_the_runs_precision(tester):
    """A bf16 run's multi-view figures come from the same precision as its per-epoch evaluations (autocast)."""
    from a3lign.train.evaluation import evaluate_model

    model = tester.build_model(num_frames=4)
    data = [
        {"frame_embeddings": torch.randn(2, 4, model.config.clip_config.projection_dim), "labels": k % 3}
        for k in range(6)
    ]
    seen = []
    forward = model.forward
    model.forward = lambda **inputs: seen.append(torch.is_autocast_enabled("cpu")) or forward(**inputs)
    plain = evaluate_model(model, data, batch_size=3)
    assert seen == [False, False]
    halved = evaluate_model(model, data, batch_size=3, precision=torch.bfloat16)
    assert seen[2:] == [True, True] and halved["num_clips"] == plain["num_clips"] == 6
