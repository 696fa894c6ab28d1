"""Tiny random CLIPs and A3lign configs: the whole suite runs on 2 CPU cores, nothing downloaded."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from transformers import CLIPConfig, CLIPModel

from a3lign import A3lignConfig, A3lignModel

# Token ids inside the tiny vocabulary; 269 (CLIP's ".") fits below 512.
TINY_SOS, TINY_EOT = 510, 511


def tiny_clip_config(**overrides) -> CLIPConfig:
    """A CLIP of hidden width 32 and 2 layers per tower, images of 32 px in 8 px patches."""
    text = dict(
        vocab_size=512,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=24,
        bos_token_id=TINY_SOS,
        eos_token_id=TINY_EOT,
        pad_token_id=0,
    )
    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16, **overrides)


class A3lignTester:
    """Tiny dimensions for A3lign tests: a small tester class, as transformers' model tests have (`*ModelTester`)."""

    batch_size = 2
    num_frames = 4
    image_size = 32
    num_labels = 3

    def get_config(self, **overrides) -> A3lignConfig:
        values = dict(
            clip_config=tiny_clip_config(),
            id2label={i: f"class_{i}" for i in range(self.num_labels)},
            num_frames=self.num_frames,
            image_size=self.image_size,
            mat_sentences=3,
            mat_tokens=5,
            dynamic_num_heads=2,
            dynamic_dropout=0.0,
        )
        values.update(overrides)
        return A3lignConfig(**values)

    def prepare_config_and_inputs(self, seed: int = 0, **overrides):
        config = self.get_config(**overrides)
        generator = torch.Generator().manual_seed(seed)
        pixel_values_videos = torch.randn(
            self.batch_size, config.num_frames, 3, config.image_size, config.image_size, generator=generator
        )
        labels = torch.randint(0, config.num_labels, (self.batch_size,), generator=generator)
        return config, pixel_values_videos, labels

    def build_model(self, seed: int = 0, **overrides) -> A3lignModel:
        torch.manual_seed(seed)
        return A3lignModel(self.get_config(**overrides)).eval()


@pytest.fixture
def tester() -> A3lignTester:
    return A3lignTester()


def save_clip_with_tokenizer(folder):
    """A tiny random CLIP saved with a tokenizer: byte-level BPE without merges (a token a character), in CLIP's own
    byte order, so that "." is 269 as in CLIP's vocabulary; SOS 512, EOT 513; 40 text positions."""
    import json

    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    characters = list(bytes_to_unicode().values())
    vocab = {token: i for i, token in enumerate(characters + [c + "</w>" for c in characters])}
    vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    text = dict(
        vocab_size=514,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=40,
        bos_token_id=512,
        eos_token_id=513,
        pad_token_id=0,
    )
    vision = dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8
    )
    torch.manual_seed(4)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).save_pretrained(folder)
    return folder


@pytest.fixture
def tiny_clip_dir(tmp_path):
    """A tiny random CLIP saved to a folder, standing in for a hub checkpoint."""
    torch.manual_seed(1)
    clip = CLIPModel(tiny_clip_config())
    path = tmp_path / "tiny-clip"
    clip.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tinted_run(tmp_path_factory):
    """A run folder of a tiny A3lign trained to tell warm from cold cartoon faces (`tests.predict.train_tinted_run`),
    shared by the timeline, app and model-card tests."""
    from .predict import train_tinted_run

    return train_tinted_run(tmp_path_factory.mktemp("tinted"))


def pytest_terminal_summary(terminalreporter):
    """The number of generated fuzz cases (tests/test_fuzz.py), so a run shows how much was tried."""
    from .test_fuzz import CASES

    if CASES:
        terminalreporter.write_line("fuzz cases: " + ", ".join(f"{kind} {n}" for kind, n in CASES.items()))
