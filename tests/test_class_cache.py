"""The class-embedding cache: used exactly when no gradient can reach the class path, and never stale."""

import pytest
import torch

from a3lign import A3lignModel
from a3lign.train.bap import apply_stage


@pytest.fixture
def model(tester):
    return tester.build_model(bap_stage=3)


def text_tower_calls(model):
    calls = []
    model.clip.text_model.encoder.register_forward_hook(lambda *args: calls.append(1))
    return calls


def assert_fresh(model):
    """The cached class embeddings equal a recomputation from scratch."""
    with torch.no_grad():
        cached = model.get_class_embeddings()
        torch.testing.assert_close(cached, model.get_class_embeddings(use_cache=False), rtol=0, atol=0)


def test_inference_computes_class_embeddings_once(model, tester):
    _, pixels, _ = tester.prepare_config_and_inputs()
    calls = text_tower_calls(model)
    with torch.no_grad():
        first = model(pixels).logits
        second = model(pixels).logits
        uncached = model.get_class_embeddings(use_cache=False)
        cached = model.get_class_embeddings()
    assert len(calls) == 2  # once for the cache, once for the explicit uncached call
    assert torch.equal(first, second)
    assert torch.equal(cached, uncached)


def test_stage_2_training_reuses_them_stage_1_and_3_do_not(model, tester):
    _, pixels, labels = tester.prepare_config_and_inputs()
    model.train()
    calls = text_tower_calls(model)
    apply_stage(model, 2)  # the training side freezes the class path in stage 2
    for _ in range(3):
        model(pixels, labels=labels).loss.backward()
    assert len(calls) == 1 and model.video_dynamic_encoder.blocks[0].linear1.weight.grad is not None
    for stage in (1, 3):
        apply_stage(model, stage)
        calls.clear()
        for _ in range(2):
            model(pixels, labels=labels).loss.backward()
        assert len(calls) == 2 and model.mat.tokens.grad is not None


def test_every_event_that_changes_them_invalidates_the_cache(model, tester):
    _, pixels, labels = tester.prepare_config_and_inputs()
    model.eval()
    assert_fresh(model)
    # a training step on the class path (stage 3), then inference
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    before = model.get_class_embeddings().clone()
    model.train()
    model(pixels, labels=labels).loss.backward()
    optimizer.step()
    model.eval()
    assert not torch.equal(model.get_class_embeddings(), before)
    assert_fresh(model)
    # a stage change, then Module Synchronization
    model.set_bap_stage(2)
    assert_fresh(model)
    model.set_bap_stage(3)
    model.synchronize_modules()
    assert_fresh(model)
    # loading other weights
    other = tester.build_model(seed=7, bap_stage=3)
    model.load_state_dict(other.state_dict())
    assert_fresh(model)
    # dtype moves, there and back
    model.to(torch.bfloat16)
    assert model.get_class_embeddings().dtype == torch.bfloat16
    assert_fresh(model)
    model.to(torch.float32)
    assert_fresh(model)
    # in-place edits of a frozen tensor (e.g. a user's surgery on the MAT)
    with torch.no_grad():
        model.mat.tokens.mul_(2)
    assert_fresh(model)


def test_cached_and_uncached_logits_match_after_from_pretrained(tester, tmp_path, model):
    _, pixels, _ = tester.prepare_config_and_inputs()
    model.eval()
    with torch.no_grad():
        model(pixels)  # fill the cache
    model.save_pretrained(tmp_path)
    loaded = A3lignModel.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(pixels).logits, model(pixels).logits, rtol=0, atol=0)
    assert_fresh(loaded)
