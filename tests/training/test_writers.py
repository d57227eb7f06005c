"""JSONL records, truncation on resume, plots, progress lines."""

import numpy as np

from seqmodels.training import writers


def test_jsonl_write_truncate_and_plots(tmp_path):
    writer = writers.MetricWriter(tmp_path, tensorboard=False)
    for step in (10, 20, 30):
        writer.write(step, "train", {"loss": 1.0 / step, "accuracy": np.float32(0.5)})
        writer.write(step, "eval", {"loss": 2.0 / step})
    writer.write(30, "final", {"loss": 0.01})
    writer.truncate_after(20)
    records = writers.read_jsonl(tmp_path / "metrics.jsonl")
    assert [(r["step"], r["split"]) for r in records] == [(10, "train"), (10, "eval"), (20, "train"), (20, "eval")]
    assert records[0] == {"step": 10, "split": "train", "loss": 0.1, "accuracy": 0.5}
    writer.close()
    paths = writers.plot_curves(tmp_path / "metrics.jsonl", tmp_path / "plots")
    assert sorted(p.name for p in paths) == ["accuracy.png", "loss.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in paths)


def test_progress_reports_a_rate(caplog):
    progress = writers.Progress(100, start_step=0)
    with caplog.at_level("INFO"):
        rate = progress.log(10, {"loss": 0.5})
    assert rate > 0
    assert "step 10/100 (10%) train: loss 0.5 |" in caplog.text and "ETA" in caplog.text
