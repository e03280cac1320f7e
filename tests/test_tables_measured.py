"""expo tables shows what ran: empty tables say why in the table, the lm-eval and AlpacaEval-prompt reward tables,
noise-free CSV floats, and the gain plot with measured panels only."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
import yaml

from expo.cli import main
from expo.errors import ExpoError
from expo.tables.build import TABLE_NAMES, build_tables
from expo.tables.notes import note_cli_args, parse_notes, stage_notes
from expo.tables.plots import measured_panels
from expo.tables.writer import csv_float

ROOT = Path(__file__).resolve().parents[1]
PUB = "pairs:\n  p1:\n    alpha: 0.5\n    original: {alpaca_wr: 6.7}\n    expo: {alpaca_wr: 10.6}\n"


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def root(tmp_path):
    """Results of a demo-like run: rewards on the AlpacaEval prompts and one local lm-eval task, no judge."""
    root = tmp_path / "root"
    (root / "rewards_alpaca").mkdir(parents=True)
    (root / "rewards_alpaca" / "p1_alpha0.0.jsonl").write_text("1.5\n-0.25\n2.0\n")
    (root / "rewards_alpaca" / "p1_alpha0.5.jsonl").write_text("3.0\n1.0\n")
    folder = root / "results_lmeval" / "p1_alpha0.0"
    folder.mkdir(parents=True)
    result = {
        "results": {
            "tiny": {
                "alias": "tiny",
                "sample_len": 20,
                "acc,none": 0.4,
                "acc_stderr,none": 0.11,
                "acc_norm,none": 0.35,
            }
        },
        "n-samples": {"tiny": {"original": 20, "effective": 20}},
    }
    (folder / "tiny.json").write_text(json.dumps(result))
    (tmp_path / "pub.yaml").write_text(PUB)
    return root


def test_empty_tables_say_why_in_the_table(root, tmp_path):
    notes = {"alpaca_eval": "AlpacaEval stage not run: alpaca_eval.enabled is false"}
    result = build_tables(
        root, tmp_path / "out", tmp_path / "pub.yaml", plots_enabled=False, stage_notes=notes
    )
    out = tmp_path / "out"
    for name in TABLE_NAMES:
        rows = read_csv(out / f"{name}.csv")
        assert rows, f"{name}.csv is header-only"
        if result.counts[name] == 0:
            assert len(rows) == 1 and rows[0]["note"], name
            assert rows[0]["note"] in (out / f"{name}.md").read_text()
            assert "note" in (out / f"{name}.tex").read_text()
    assert read_csv(out / "alpaca_eval.csv")[0]["note"] == notes["alpaca_eval"]
    assert read_csv(out / "mt_bench.csv")[0]["note"].startswith("MT-Bench stage not run: no results_mtbench/")
    v1 = read_csv(out / "open_llm.csv")[0]["note"]
    assert v1.startswith("Open LLM Leaderboard v1 not run:") and "only tiny" in v1
    assert "note" not in read_csv(out / "lmeval.csv")[0]  # a filled table keeps its columns


def test_measured_tables(root, tmp_path):
    build_tables(root, tmp_path / "out", tmp_path / "pub.yaml", plots_enabled=False)
    lm = read_csv(tmp_path / "out" / "lmeval.csv")
    assert [(r["task"], r["metric"], r["value"], r["stderr"], r["n_samples"]) for r in lm] == [
        ("tiny", "acc,none", "0.4", "0.11", "20"),
        ("tiny", "acc_norm,none", "0.35", "", "20"),
    ]
    rewards = {r["model"]: r for r in read_csv(tmp_path / "out" / "rewards_alpaca.csv")}
    for model, values in {"p1_alpha0.0": [1.5, -0.25, 2.0], "p1_alpha0.5": [3.0, 1.0]}.items():
        row = rewards[model]
        assert float(row["mean_reward"]) == pytest.approx(statistics.fmean(values), abs=1e-12)
        assert float(row["reward_se"]) == pytest.approx(
            statistics.stdev(values) / len(values) ** 0.5, abs=1e-12
        )
        assert int(row["n"]) == len(values) and row["pair"] == "p1"
    pairs = {r["metric"]: r for r in read_csv(tmp_path / "out" / "paper_pairs.csv") if r["pair"] == "p1"}
    assert float(pairs["alpaca_reward"]["delta"]) == pytest.approx(2.0 - statistics.fmean([1.5, -0.25, 2.0]))
    # published-only metric: 10.6 - 6.7 without float noise in the CSV, two decimals in Markdown
    assert pairs["alpaca_wr"]["published_delta"] == "3.9" and pairs["alpaca_wr"]["delta"] == ""
    assert "| 3.90 |" in (tmp_path / "out" / "paper_pairs.md").read_text()


def test_csv_float_drops_noise_only():
    assert csv_float(10.6 - 6.7) == "3.9" and repr(10.6 - 6.7) == "3.8999999999999995"
    assert csv_float(0.1 + 0.2) == "0.3"
    for exact in (4.686269877502661, 57.90166666666667, -0.513740403577685, 1e-20, 2.5, 8.672842757272283):
        assert float(csv_float(exact)) == exact
    assert csv_float(float("nan")) == "nan"


def test_gain_plot_leaves_out_published_only_metrics():
    rows = [
        {"pair": "p1", "metric": "alpaca_wr", "delta": None, "published_delta": 3.9},
        {"pair": "p1", "metric": "uf_reward", "delta": 0.6, "published_delta": None},
        {"pair": "p2", "metric": "uf_reward", "delta": None, "published_delta": None},
    ]
    panels = measured_panels(rows)
    assert [(m, [r["pair"] for r in rs]) for m, rs in panels] == [("uf_reward", ["p1"])]


def test_stage_notes_from_config():
    demo = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    notes = stage_notes(demo, environ={})
    assert notes == {
        "alpaca_eval": "AlpacaEval stage not run: alpaca_eval.enabled is false",
        "mt_bench": "MT-Bench stage not run: mt_bench.enabled is false",
        "open_llm": "Open LLM Leaderboard v1 not run: lmeval.suites.v1 is false in the config (the config runs: local)",
        "open_llm_v2": "Open LLM Leaderboard v2 not run: lmeval.suites.v2 is false in the config (the config runs: local)",
    }
    judged = {
        **demo,
        "alpaca_eval": {"base_url": "http://127.0.0.1:9/v1"},
        "lmeval": {"suites": {"v1": True}},
    }
    assert set(stage_notes(judged, environ={})) == {"mt_bench", "open_llm_v2"}
    assert parse_notes(["x=a  b", "y=c"]) == {"x": "a b", "y": "c"}
    assert parse_notes(
        note_cli_args(demo, environ={}).split("--note ")[1:2][0].strip().strip("'").split("\n")
    ) == {"alpaca_eval": "AlpacaEval stage not run: alpaca_eval.enabled is false"}


def test_bad_notes_are_one_line_errors(root, tmp_path, capsys):
    with pytest.raises(ExpoError, match=r"--note 'alpaca_eval': expected TABLE=TEXT"):
        parse_notes(["alpaca_eval"])
    argv = ["tables", "--from", str(root), "--out", str(tmp_path / "out"), "--note", "alpaca=x"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("expo tables: error: --note for unknown table(s) alpaca (tables: alpaca_eval,")
    assert not (tmp_path / "out").exists()
