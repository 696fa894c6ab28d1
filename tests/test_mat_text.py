"""A MAT that starts from words (`mat_init="text"`): at initialisation its sentence embeddings are exactly CLIP's text
features of the descriptions, and the untrained model in stage 0 is exactly CLIP's zero-shot classifier; a checkpoint
without a tokenizer, or classes without descriptions, are named. A tiny CLIP and a byte-level tokenizer with CLIP's
own byte order (so "." is 269, as in CLIP's vocabulary) are built here."""

import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, CLIPModel

from a3lign import A3lignModel

from .conftest import save_clip_with_tokenizer

DESCRIPTIONS = {
    "calm": ["a calm face", "relaxed brows and lips"],
    "joy": ["a happy face", "cheeks raised, lips pulled up", "a broad smile"],
    "fear": ["a frightened face"],  # one description for three sentences: cycled
}


@pytest.fixture(scope="module")
def clip_with_tokenizer(tmp_path_factory):
    return save_clip_with_tokenizer(tmp_path_factory.mktemp("clip-with-tokenizer"))


def build(folder, **overrides):
    values = dict(
        id2label={0: "calm", 1: "joy", 2: "fear"},
        mat_init="text",
        mat_descriptions=DESCRIPTIONS,
        mat_sentences=3,
        mat_tokens=30,
        num_frames=4,
        image_size=32,
    )
    values.update(overrides)
    return A3lignModel.from_clip_pretrained(folder, **values).eval()


def clip_text_features(folder, sentences) -> torch.Tensor:
    """CLIP's own text features of sentences, each closed by one period."""
    tokenizer, clip = AutoTokenizer.from_pretrained(folder), CLIPModel.from_pretrained(folder).eval()
    batch = tokenizer([s + "." for s in sentences], padding=True, return_tensors="pt")
    with torch.no_grad():
        return clip.get_text_features(**batch).pooler_output


def test_the_mat_starts_as_clips_text_features_of_the_descriptions(clip_with_tokenizer):
    model = build(clip_with_tokenizer)
    assert model.config.mat_init == "text"
    expected = torch.stack(
        [
            clip_text_features(
                clip_with_tokenizer, [DESCRIPTIONS[name][s % len(DESCRIPTIONS[name])] for s in range(3)]
            )
            for name in ("calm", "joy", "fear")
        ]
    )
    with torch.no_grad():
        assert torch.allclose(model.get_sentence_embeddings(), expected, atol=1e-5)
    lengths = model.config.mat_sentence_lengths
    tokens = lambda text: len(text.replace(" ", "").replace(",", ",."))  # noqa: E731 - a token a character (no merges)
    assert lengths[2] == [tokens("a frightened face")] * 3 and lengths[0][0] == tokens("a calm face")


def test_the_untrained_model_is_clips_zero_shot_classifier(clip_with_tokenizer, tmp_path):
    """Stage 0: each clip's frames' unit vectors averaged, against each class's descriptions' unit vectors averaged,
    cosine times CLIP's scale: what CLIP's own zero-shot classification of these clips gives. It survives saving."""
    model = build(clip_with_tokenizer)
    model.set_bap_stage(0)
    torch.manual_seed(0)
    pixels = torch.randn(2, 4, 3, 32, 32)
    clip = CLIPModel.from_pretrained(clip_with_tokenizer).eval()
    with torch.no_grad():
        frames = clip.get_image_features(pixel_values=pixels.flatten(0, 1)).pooler_output.view(2, 4, -1)
        video = F.normalize(F.normalize(frames, dim=-1).mean(1), dim=-1)
        classes = []
        for name in ("calm", "joy", "fear"):
            text = clip_text_features(
                clip_with_tokenizer, [DESCRIPTIONS[name][s % len(DESCRIPTIONS[name])] for s in range(3)]
            )
            classes.append(F.normalize(F.normalize(text, dim=-1).mean(0), dim=-1))
        expected = 100 * video @ torch.stack(classes).T
        assert torch.allclose(model(pixels).logits, expected, atol=1e-4)
    model.save_pretrained(tmp_path / "zero-shot")
    loaded = A3lignModel.from_pretrained(tmp_path / "zero-shot").eval()
    with torch.no_grad():
        assert loaded.config.bap_stage == 0 and torch.allclose(loaded(pixels).logits, expected, atol=1e-4)


def test_training_starts_from_the_words(clip_with_tokenizer):
    """The text-initialised sentences train (gradients reach their tokens, not the unused slots past them)."""
    model = build(clip_with_tokenizer, bap_stage=1)
    model.train()
    loss = model(frame_embeddings=torch.randn(2, 4, 16), labels=torch.tensor([0, 2])).loss
    loss.backward()
    grad = model.mat.tokens.grad
    length = model.config.mat_sentence_lengths[0][0]
    assert grad[0, 0, :length].abs().sum() > 0 and grad[0, 0, length:].abs().sum() == 0


def test_what_is_missing_is_named(clip_with_tokenizer, tiny_clip_dir):
    with pytest.raises(ValueError, match=r"CLIP checkpoint '.*tiny-clip' has no tokenizer .*mat_init='text' needs it"):
        build(tiny_clip_dir, mat_tokens=10)
    with pytest.raises(ValueError, match=r"no descriptions of the classes \['fear'\]"):
        build(clip_with_tokenizer, mat_descriptions={k: v for k, v in DESCRIPTIONS.items() if k != "fear"})
    with pytest.raises(ValueError, match=r"mat_init='text' needs descriptions"):
        build(clip_with_tokenizer, mat_descriptions=None)
    with pytest.raises(
        ValueError, match=r"description 'a happy face' of joy is 10 tokens: expected 1 to mat_tokens=8"
    ):
        build(clip_with_tokenizer, mat_tokens=8, mat_descriptions={**DESCRIPTIONS, "calm": ["calm"]})
