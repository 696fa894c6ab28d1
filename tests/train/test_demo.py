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
    assert list(result.rows) == [42]  # transformers' default seed: the demo as it was before --seeds


def test_demo_over_seeds_gives_each_figure_its_range(tmp_path, capsys):
    """Two seeds: two runs, two tables, then one of `mean (min-max)` whose bounds are the runs' own figures."""
    result = demo(
        ["--output", str(tmp_path / "demo"), "--clips_per_class", "2", "--test_clips_per_class", "1", "--seeds", "3,4"]
        + ["--", "--stage_epochs", "1", "1", "1", "--dataloader_num_workers", "0"]
    )
    out = capsys.readouterr().out
    assert "seed 3:" in out and "seed 4:" in out and "(2 seeds: mean (min-max))" in out
    assert (tmp_path / "demo" / "model").is_dir() and (tmp_path / "demo" / "model-seed4").is_dir()
    row = "stage 3, shuffled test frames"
    uars = [result.rows[seed][row][0] for seed in (3, 4)]
    line = next(line for line in out.splitlines() if line.startswith(f"| {row} |") and "(" in line.split("|")[2])
    assert f"{sum(uars) / 2:.1f} ({min(uars):.1f}-{max(uars):.1f})" == line.split("|")[2].strip()


def test_demo_seeds_are_checked(tmp_path):
    import pytest

    for bad in ("1,x", "2,2"):
        with pytest.raises(SystemExit):
            demo(["--output", str(tmp_path / "d"), "--seeds", bad])
