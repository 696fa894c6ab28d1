"""The Transformers contract: remote-code save/reload in a fresh process (without the package and without
PyAV), the imports transformers checks, dtypes, attention kernels."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from transformers import AutoModel
from transformers.dynamic_module_utils import check_imports, get_imports, get_relative_import_files

from a3lign import A3lignModel, A3lignVideoProcessor


@pytest.fixture
def saved_stage2(tester, tmp_path):
    """A tiny model saved at stage 2 with its processor beside it (as README says), with inputs and the
    logits it gives."""
    config, pixels, _ = tester.prepare_config_and_inputs(bap_stage=2)
    torch.manual_seed(0)
    model = A3lignModel(config).eval()
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    A3lignVideoProcessor.from_model_config(model.config).save_pretrained(folder)
    with torch.no_grad():
        logits = model(pixels).logits
    torch.save({"pixels": pixels, "logits": logits}, tmp_path / "io.pt")
    return folder, tmp_path / "io.pt", model


def test_folder_holds_code_safetensors_and_no_pickle(saved_stage2):
    folder = saved_stage2[0]
    files = set(os.listdir(folder))
    assert {"config.json", "model.safetensors", "configuration_a3lign.py", "modeling_a3lign.py"} <= files
    assert not [f for f in files if f.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt"))]
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForVideoClassification"}


FRESH_PROCESS = textwrap.dedent(
    """
    import sys, torch
    sys.modules["a3lign"] = None  # the package must not be importable: the folder carries the code
    sys.modules["av"] = None  # nor PyAV: building a model needs only torch and transformers
    try:
        import a3lign
        raise SystemExit("a3lign was importable")
    except ImportError:
        pass
    from transformers import AutoConfig, AutoModel, AutoModelForVideoClassification
    folder, io = sys.argv[1], torch.load(sys.argv[2])
    config = AutoConfig.from_pretrained(folder, trust_remote_code=True)
    assert type(config).__name__ == "A3lignConfig" and config.bap_stage == 2, config
    for auto in (AutoModel, AutoModelForVideoClassification):
        model = auto.from_pretrained(folder, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        assert model.config.bap_stage == 2
        assert not any(p.requires_grad for p in model.clip.parameters()), "CLIP trainable after loading"
        # What trains in a stage is the trainer's decision: loading only keeps CLIP (and a fixed scale) frozen.
        trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
        assert trainable == {"mat", "text_dynamic_encoder", "video_dynamic_encoder", "jas"}, trainable
        with torch.no_grad():
            logits = model(io["pixels"]).logits
        assert torch.equal(logits, io["logits"]), (logits - io["logits"]).abs().max()
    print("FRESH-PROCESS-OK")
    """
)


def test_building_the_model_needs_only_torch_and_transformers(saved_stage2):
    """transformers' own import check, over every file the folder carries: the model's files (config and
    modeling, with their relative imports) import only torch and transformers; PyAV is the processor's."""
    folder = saved_stage2[0]
    carried = {path.name: path for path in folder.glob("*.py")}
    assert set(carried) == {
        "configuration_a3lign.py",
        "modeling_a3lign.py",
        "processing_a3lign.py",
        "decoding_a3lign.py",
        "faces_a3lign.py",
        "pipeline_a3lign.py",
    }  # every folder carries the pipeline
    auto_map = json.loads((folder / "config.json").read_text())["auto_map"]
    model_files = {f"{reference.split('.')[0]}.py" for reference in auto_map.values()}
    model_files |= {
        os.path.basename(f) for name in list(model_files) for f in get_relative_import_files(carried[name])
    }
    assert model_files == {"configuration_a3lign.py", "modeling_a3lign.py"}

    def third_party(name):  # what transformers would demand be installed, beyond the standard library
        return set(get_imports(carried[name])) - sys.stdlib_module_names

    for name in sorted(model_files):
        assert third_party(name) <= {"torch", "transformers"}, (name, third_party(name))
        check_imports(carried[name])
    processor_imports = (
        third_party("processing_a3lign.py") | third_party("decoding_a3lign.py") | third_party("faces_a3lign.py")
    )
    # OpenCV (face_crop) is imported inside `try`, which transformers does not demand.
    assert "av" in processor_imports and processor_imports <= {"av", "numpy", "PIL", "torch", "transformers"}


def test_remote_code_round_trip_in_a_fresh_process(saved_stage2, tmp_path):
    folder, io, _ = saved_stage2
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_MODULES_CACHE": str(tmp_path / "modules")}
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, str(folder), str(io)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "FRESH-PROCESS-OK" in result.stdout


def test_in_process_reload_refreezes_clip_and_keeps_the_stage(saved_stage2):
    folder, io, _ = saved_stage2
    model = AutoModel.from_pretrained(folder)
    assert isinstance(model, A3lignModel) and model.config.bap_stage == 2
    assert not any(p.requires_grad for p in model.clip.parameters())
    with torch.no_grad():
        data = torch.load(io)
        assert torch.equal(model.eval()(data["pixels"]).logits, data["logits"])


def test_loading_info_is_returned_and_clip_stays_frozen(saved_stage2):
    folder = saved_stage2[0]
    for auto in (A3lignModel, AutoModel):
        model, info = auto.from_pretrained(folder, output_loading_info=True)
        assert isinstance(model, A3lignModel) and set(info) >= {"missing_keys", "unexpected_keys"}
        assert not info["missing_keys"] and not info["unexpected_keys"]
        assert not any(p.requires_grad for p in model.clip.parameters())


def test_bf16_loading_runs(saved_stage2):
    folder, io, _ = saved_stage2
    model = A3lignModel.from_pretrained(folder, dtype=torch.bfloat16).eval()
    assert model.mat.tokens.dtype == torch.bfloat16 and model.clip.visual_projection.weight.dtype == torch.bfloat16
    data = torch.load(io)
    with torch.no_grad():
        logits = model(data["pixels"]).logits
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), data["logits"], atol=0.5, rtol=0.05)


def test_sdpa_and_eager_attention_agree(saved_stage2):
    folder, io, _ = saved_stage2
    data = torch.load(io)
    logits = {}
    for kernel in ("sdpa", "eager"):
        model = A3lignModel.from_pretrained(folder, attn_implementation=kernel).eval()
        assert model.clip.text_model.config._attn_implementation == kernel
        assert model.clip.vision_model.config._attn_implementation == kernel
        with torch.no_grad():
            logits[kernel] = model(data["pixels"]).logits
            # the MAT path drives CLIP's text parts by hand: check it honours the kernel too
            logits[kernel + "_text"] = model.get_sentence_embeddings()
    torch.testing.assert_close(logits["sdpa"], logits["eager"], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logits["sdpa_text"], logits["eager_text"], atol=1e-5, rtol=1e-4)
