"""The demo (`a3lign demo`, `make demo`) on a tiny synthetic set."""

from a3lign.cli.demo import main as demo


def test_demo_runs_end_to_end(tmp_path, capsys):
    result = demo(
        [
            "--output",
            str(tmp_path / "demo"),
            "--clips_per_class",
            "2",
            "--test_clips_per_class",
            "1",
            "--",
            "--stage_epochs",
            "1",
            "1",
            "1",
            "--dataloader_num_workers",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert "| stage 1 (epoch 1) |" in out and "| stage 3 (epoch 3) |" in out and "shuffled test frames" in out
    assert out.count("pipeline on held-out") == 2
    assert result.shuffled["num_clips"] == 7
    assert (tmp_path / "demo" / "model" / "model.safetensors").exists()
