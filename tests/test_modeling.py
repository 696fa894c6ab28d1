"""A3lignModel: the text path, the BAP forward paths, Module Synchronization, and building from CLIP.
(What trains in each stage is the training side's: tests/train/test_bap.py.)"""

import pytest
import torch
from transformers import CLIPModel

from a3lign import A3lignModel

from .conftest import TINY_EOT, TINY_SOS


def test_output_shapes(tester):
    config, pixels, labels = tester.prepare_config_and_inputs()
    model = A3lignModel(config).eval()
    out = model(pixel_values_videos=pixels, labels=labels)
    d = config.clip_config.projection_dim
    assert out.logits.shape == (tester.batch_size, config.num_labels)
    assert out.video_embeds.shape == (tester.batch_size, d)
    assert out.class_embeds.shape == (config.num_labels, d)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert model.get_sentence_embeddings().shape == (config.num_labels, config.mat_sentences, d)
    assert model.get_frame_embeddings(pixels).shape == (tester.batch_size, config.num_frames, d)
    assert model(pixels).loss is None


@pytest.mark.parametrize("truncate", [True, False])
def test_text_path_equals_clip_get_text_features(tester, truncate):
    """With the MAT holding real token embeddings, sentences equal CLIP's own text features."""
    model = tester.build_model(mat_truncate_after_eot=truncate)
    config = model.config
    classes, sentences, tokens = config.num_labels, config.mat_sentences, config.mat_tokens
    word_ids = torch.randint(1, 500, (classes, sentences, tokens))
    with torch.no_grad():
        model.mat.tokens.copy_(model.clip.text_model.embeddings.token_embedding(word_ids))
        ours = model.get_sentence_embeddings()
    context = config.clip_config.text_config.max_position_embeddings
    flat = word_ids.flatten(0, 1)
    n = flat.shape[0]
    ids = torch.cat(
        [
            torch.full((n, 1), TINY_SOS),
            flat,
            torch.full((n, 1), config.mat_period_token_id),
            torch.full((n, context - tokens - 2), TINY_EOT),  # EOT, then EOT as padding (CLIP's pad)
        ],
        dim=1,
    )
    with torch.no_grad():
        reference = model.clip.get_text_features(input_ids=ids).pooler_output.view(classes, sentences, -1)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


def test_clip_and_a_fixed_logit_scale_never_train(tester):
    learnable = tester.build_model(logit_scale_learnable=True)
    assert learnable.logit_scale.requires_grad
    assert not any(p.requires_grad for p in learnable.clip.parameters())
    fixed = tester.build_model()
    assert not fixed.logit_scale.requires_grad
    assert fixed.logit_scale.exp().item() == pytest.approx(100.0)
    fixed.set_bap_stage(2)  # the forward path only: what trains is the training side's decision
    assert fixed.config.bap_stage == 2
    assert all(p.requires_grad for p in fixed.video_dynamic_encoder.parameters())
    assert all(p.requires_grad for p in fixed.mat.parameters())


@pytest.mark.parametrize("stage, order_matters", [(1, False), (2, True), (3, True)])
def test_frame_order(tester, stage, order_matters):
    config, pixels, _ = tester.prepare_config_and_inputs()
    model = A3lignModel(config).eval()
    model.set_bap_stage(stage)
    permutation = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        logits = model(pixels).logits
        shuffled = model(pixels[:, permutation]).logits
    if order_matters:
        assert (logits - shuffled).abs().max() > 1e-4
    else:
        torch.testing.assert_close(logits, shuffled, rtol=1e-5, atol=1e-5)


def test_without_positional_embeddings_the_dynamic_encoders_ignore_order(tester):
    config, pixels, _ = tester.prepare_config_and_inputs(dynamic_position_embedding="none", bap_stage=2)
    model = A3lignModel(config).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(pixels).logits, model(pixels[:, [3, 1, 0, 2]]).logits, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "policy, stem",
    [
        (["video.0", "video.1", "text.0", "text.1"], "video"),
        (["init", "text.1", "video.3", "video.0"], "text"),
        (["init", "init", "init", "init"], "init"),
    ],
)
def test_synchronization_copies_what_the_policy_says(tester, policy, stem):
    model = tester.build_model(jas_synchronization=policy, jas_synchronization_stem=stem, dynamic_hidden_size=8)
    before = {k: v.clone() for k, v in model.jas.state_dict().items()}
    model.synchronize_modules()
    after = model.jas.state_dict()
    sources = {"video": model.video_dynamic_encoder, "text": model.text_dynamic_encoder}
    for k, entry in enumerate(policy):
        block = {n: v for n, v in after.items() if n.startswith(f"blocks.{k}.")}
        for name, value in block.items():
            if entry == "init":
                assert torch.equal(value, before[name]), name
            else:
                source, index = entry.split(".")
                expected = sources[source].state_dict()[name.replace(f"blocks.{k}.", f"blocks.{index}.", 1)]
                assert torch.equal(value, expected), name
    stem_names = [n for n in after if not n.startswith("blocks.")]
    assert {n.split(".")[0] for n in stem_names} >= {"input_map", "output_map", "position_embedding", "final_norm"}
    for name in stem_names:
        expected = before[name] if stem == "init" else sources[stem].state_dict()[name]
        assert torch.equal(after[name], expected), name
    # Copies, not shared storage: training the JAS later must not move the source encoders.
    jas_storage = {p.data_ptr() for p in model.jas.parameters()}
    assert not jas_storage & {p.data_ptr() for p in model.video_dynamic_encoder.parameters()}
    assert not jas_storage & {p.data_ptr() for p in model.text_dynamic_encoder.parameters()}


def test_jas_is_one_module_serving_both_modalities(tester):
    config, pixels, _ = tester.prepare_config_and_inputs(bap_stage=3)
    model = A3lignModel(config).eval()
    calls = []
    model.jas.register_forward_hook(lambda module, args, out: calls.append(args[0].shape[0]))
    for encoder in (model.video_dynamic_encoder, model.text_dynamic_encoder):
        encoder.register_forward_hook(lambda *a: pytest.fail("stage 3 must not use the stage 1/2 encoders"))
    model(pixels)
    assert sorted(calls) == sorted([tester.batch_size, config.num_labels])
    names = [n for n, _ in model.named_parameters(remove_duplicate=False)]
    assert len(names) == len(set(p.data_ptr() for p in model.parameters())), "a parameter registered twice"


def test_invalid_stage_and_input_shapes(tester):
    model = tester.build_model()
    with pytest.raises(ValueError, match="bap_stage=5"):
        model.set_bap_stage(5)
    with pytest.raises(ValueError, match=r"\(batch, frames, 3, height, width\)"):
        model(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="pixel_values_videos"):
        model()
    with pytest.raises(ValueError, match="exceeds"):
        model.set_bap_stage(2)
        model(frame_embeddings=torch.randn(1, 9, 16))


def test_frame_embeddings_replace_pixels(tester):
    config, pixels, _ = tester.prepare_config_and_inputs(bap_stage=2)
    model = A3lignModel(config).eval()
    with torch.no_grad():
        frames = model.get_frame_embeddings(pixels)
        torch.testing.assert_close(model(frame_embeddings=frames).logits, model(pixels).logits)


def test_from_clip_pretrained_copies_the_weights_bit_for_bit(tiny_clip_dir):
    clip = CLIPModel.from_pretrained(tiny_clip_dir)
    model = A3lignModel.from_clip_pretrained(
        tiny_clip_dir, id2label={0: "calm", 1: "tense"}, image_size=32, mat_tokens=5, dynamic_num_heads=2, bap_stage=1
    )
    ours = model.clip.state_dict()
    for name, value in clip.state_dict().items():
        assert torch.equal(ours[name], value), name
    assert model.config.clip_name_or_path == str(tiny_clip_dir)
    assert model.config.id2label == {0: "calm", 1: "tense"} and model.config.label2id == {"calm": 0, "tense": 1}
    assert model.config.bap_stage == 1
    assert not any(p.requires_grad for p in model.clip.parameters())
    assert model.mat.tokens.shape == (2, 16, 5, 32)


def test_mean_pooling_and_wider_encoders_run(tester):
    config, pixels, labels = tester.prepare_config_and_inputs(dynamic_pooling="mean", dynamic_hidden_size=24)
    model = A3lignModel(config)
    assert model.jas.class_embedding is None
    out = model(pixel_values_videos=pixels, labels=labels)
    out.loss.backward()
    assert out.logits.shape == (tester.batch_size, config.num_labels)


def test_synchronized_jas_starts_stage_3_where_stage_2_ended(tester):
    """With the default policy the JAS is the video dynamic encoder: stage 3's video path starts exactly as
    stage 2's ended, so the class side alone has to re-align (BAPArguments.jas_frozen_ratio)."""
    config, pixels, _ = tester.prepare_config_and_inputs(bap_stage=2)
    torch.manual_seed(0)
    model = A3lignModel(config).eval()
    with torch.no_grad():
        stage_2 = model.get_video_features(pixels)
        model.synchronize_modules()
        model.set_bap_stage(3)
        torch.testing.assert_close(model.get_video_features(pixels), stage_2, atol=0, rtol=0)


@pytest.mark.parametrize("sentence_dropout", [False, True])
def test_jas_dropout_acts_on_frames_and_on_sentences_only_if_asked(tester, sentence_dropout):
    """Stage 3, training mode: the JAS's dropout acts on frames; on the classes' sentences only with
    `jas_sentence_dropout` (off by default: it broke the classes at the switch to the JAS)."""
    model = tester.build_model(bap_stage=3, dynamic_dropout=0.5, jas_sentence_dropout=sentence_dropout).train()
    assert model.config.to_dict()["jas_sentence_dropout"] is sentence_dropout
    first, second = model.get_class_embeddings(), model.get_class_embeddings()
    assert torch.equal(first, second) is not sentence_dropout
    assert first.requires_grad and model.jas.training  # gradients still reach the MAT; the mode is restored
    frames = torch.randn(2, tester.num_frames, model.config.clip_config.projection_dim)
    assert not torch.equal(
        model.get_video_features(frame_embeddings=frames), model.get_video_features(frame_embeddings=frames)
    )
    if not sentence_dropout:
        model.eval()
        assert torch.allclose(model.get_class_embeddings(use_cache=False), first, atol=1e-6)
