"""A3lignConfig: defaults, derived fields, and a clear ValueError for every invalid value."""

import pytest
from transformers import CLIPConfig

from a3lign import A3lignConfig

from .conftest import tiny_clip_config


def test_defaults_follow_the_paper():
    config = A3lignConfig()
    assert (config.num_frames, config.image_size) == (16, 112)
    assert (config.mat_sentences, config.mat_tokens) == (16, 64)
    assert (config.text_dynamic_num_layers, config.video_dynamic_num_layers, config.jas_num_layers) == (2, 4, 4)
    assert config.bap_stage == 3
    assert config.jas_synchronization == ["video.0", "video.1", "video.2", "video.3"]
    assert A3lignConfig(jas_num_layers=5, jas_synchronization=None).jas_synchronization[-1] == "init"
    # the paper's 7-class MAT, unnamed: dataset class lists belong to `a3lign.data`, checkpoints carry theirs
    assert config.id2label == {i: f"LABEL_{i}" for i in range(7)} and config.num_labels == 7
    assert config.label2id == {f"LABEL_{i}": i for i in range(7)}
    assert A3lignConfig(num_labels=3).num_labels == 3
    assert config.dynamic_hidden_size == config.clip_config.projection_dim == 768
    assert config.clip_config.vision_config.patch_size == 14


def test_round_trip_through_dict_keeps_every_field(tmp_path):
    config = A3lignConfig(
        clip_config=tiny_clip_config(),
        image_size=32,
        mat_tokens=5,
        id2label={0: "a", 1: "b"},
        bap_stage=2,
        jas_synchronization=["init", "text.1", "video.3", "video.0"],
        jas_synchronization_stem="text",
    )
    config.save_pretrained(tmp_path)
    loaded = A3lignConfig.from_pretrained(tmp_path)
    for name in (
        "image_size",
        "mat_tokens",
        "bap_stage",
        "jas_synchronization",
        "jas_synchronization_stem",
        "id2label",
        "label2id",
    ):
        assert getattr(loaded, name) == getattr(config, name), name
    assert loaded.clip_config.vision_config.patch_size == 8


@pytest.mark.parametrize(
    "overrides, field, hint",
    [
        (dict(image_size=36), "image_size", "multiple of CLIP's patch size 8"),
        (dict(image_size=4), "image_size", "multiple of CLIP's patch size 8"),
        (dict(mat_tokens=22), "mat_tokens", "at most 21"),
        (dict(id2label={0: "only"}), "id2label", "at least 2 labels"),
        (dict(bap_stage=-1), "bap_stage", "0 (zero-shot), 1, 2 or 3"),
        (dict(bap_stage=4), "bap_stage", "0 (zero-shot), 1, 2 or 3"),
        (dict(dynamic_num_heads=3), "dynamic_num_heads", "divisor of dynamic_hidden_size 16"),
        (dict(dynamic_pooling="max"), "dynamic_pooling", "'cls' or 'mean'"),
        (dict(dynamic_position_embedding="rope"), "dynamic_position_embedding", "'learned' or 'none'"),
        (dict(dynamic_dropout=1.0), "dynamic_dropout", "[0, 1)"),
        (dict(jas_synchronization=["video.0"]), "jas_synchronization", "one entry per JAS block (4)"),
        (dict(jas_synchronization=["video.0", "video.1", "text.2", "text.1"]), "jas_synchronization", "'text.2'"),
        (dict(jas_synchronization=["audio.0", "video.1", "text.0", "text.1"]), "jas_synchronization", "'audio.0'"),
        (dict(jas_synchronization_stem="both"), "jas_synchronization_stem", "'video', 'text' or 'init'"),
        (dict(mat_period_token_id=600), "mat_period_token_id", "below CLIP's vocab_size 512"),
        (dict(logit_scale_init=0.0), "logit_scale_init", "positive"),
        (dict(num_frames=0), "num_frames", "positive"),
        (dict(video_dynamic_num_layers=0, jas_synchronization=["init"] * 4), "video_dynamic_num_layers", "at least 1"),
    ],
)
def test_invalid_values_name_the_field_and_the_range(overrides, field, hint):
    values = dict(clip_config=tiny_clip_config(), image_size=32, mat_tokens=5, dynamic_num_heads=2)
    values.update(overrides)
    with pytest.raises(ValueError) as error:
        A3lignConfig(**values)
    message = str(error.value)
    assert f"A3lignConfig.{field}=" in message
    assert hint in message


def test_patch_size_error_suggests_valid_sizes():
    with pytest.raises(ValueError, match=r"e\.g\. 96, 128, 160"):
        A3lignConfig(clip_config=CLIPConfig(), image_size=112)  # ViT-B/32: 112 is not a multiple of 32
