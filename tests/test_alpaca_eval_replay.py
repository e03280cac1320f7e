"""End to end: `expo alpaca-eval` against a loopback judge replaying the published GPT-4-Turbo judgments.

Proves that our annotator (config, prompt, output order, logprob parsing, metrics) reproduces the published
AlpacaEval 2.0 numbers exactly, that a killed run keeps every delivered judgment (the rerun asks for none of
them again), and that a garbage judge trips the failure threshold without poisoning the cache.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from expo.cli import main
from helpers.replay_judge import ReplayJudge

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ae(shared_data) -> Path:
    return shared_data / "alpaca_eval"


def published_row(ae: Path, model: str) -> dict:
    with open(ae / "published" / "leaderboard_subset.csv", newline="") as fh:
        return next(row for row in csv.DictReader(fh) if row[""] == model)


def our_row(out: Path) -> dict:
    with open(out / "leaderboard.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    return rows[0]


def assert_matches_published(out: Path, ae: Path, model: str) -> None:
    ours, published = our_row(out), published_row(ae, model)
    assert ours[""] == model
    assert float(ours["win_rate"]) == pytest.approx(float(published["win_rate"]), abs=1e-9)
    assert float(ours["standard_error"]) == pytest.approx(float(published["standard_error"]), abs=1e-9)
    for key in ("n_wins", "n_wins_base", "n_draws", "n_total"):
        assert int(ours[key]) == int(published[key]), key
    assert float(ours["discrete_win_rate"]) == pytest.approx(float(published["discrete_win_rate"]), abs=1e-9)
    assert int(ours["n_failed"]) == 0
    # no df_gamed.csv offline: LC reported as unavailable with the reason, never invented
    assert ours["length_controlled_winrate"] == ""
    assert ours["lc_status"].startswith("unavailable: ")


def cli_args(ae: Path, model: str, out: Path, cache: Path, judge: ReplayJudge, *extra: str) -> list[str]:
    return [
        "alpaca-eval",
        "--model-outputs",
        str(ae / "published" / f"{model}.json"),
        "--reference",
        str(ae / "reference_outputs_gpt4_1106_preview.json"),
        "--out",
        str(out),
        "--judge-base-url",
        judge.base_url,
        "--api-key-env",
        "EXPO_TEST_UNSET_KEY",
        "--cache-dir",
        str(cache),
        "--concurrency",
        "16",
        *extra,
    ]


def test_replay_reproduces_published_leaderboard(ae, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = "zephyr-7b-sft-full"
    out, cache = tmp_path / "results" / model, tmp_path / "cache"
    copy = tmp_path / "results" / f"{model}.json"
    with ReplayJudge(ae / "published" / model / "annotations.json") as judge:
        rc = main(cli_args(ae, model, out, cache, judge, "--outputs-copy", str(copy)))
        assert rc == 0
        assert judge.n_unmatched == 0
        assert judge.n_order_mismatch == 0  # the judge saw each pair in the recorded order
        assert judge.n_answered == 803  # 805 minus 2 identical outputs (1.5 without a request)
        assert max(judge.answered.values()) == 1
        body = judge.bodies[0]
        assert body["model"] == "gpt-4-1106-preview"
        assert body["logprobs"] is True and body["top_logprobs"] == 5 and body["max_tokens"] == 1
        assert_matches_published(out, ae, model)
        annotations = json.loads((out / "annotations.json").read_text())
        assert len(annotations) == 805
        assert {a["annotator"] for a in annotations} == {"weighted_alpaca_eval_gpt4_turbo"}
        board = pd.read_csv(out / "leaderboard.csv", index_col=0)
        judge_host = judge.base_url.split("/")[2]
        assert (board.loc[model, "judge"], board.loc[model, "judge_host"]) == (
            "gpt-4-1106-preview",
            judge_host,
        )
        assert {a["generator_2"] for a in annotations} == {model}
        copied = json.loads(copy.read_text())
        assert len(copied) == 805 and {r["generator"] for r in copied} == {model}

        # a rerun (e.g. results deleted) costs nothing: every judgment comes from the journal
        (out / "leaderboard.csv").unlink()
        assert main(cli_args(ae, model, out, cache, judge)) == 0
        assert judge.n_requests == 803
        assert_matches_published(out, ae, model)


def test_killed_run_resumes_without_paying_twice(ae, tmp_path):
    model = "zephyr_0.05"
    out, cache = tmp_path / "results" / model, tmp_path / "cache"
    journal = cache / "local--gpt-4-1106-preview" / "judgments.jsonl"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    with ReplayJudge(ae / "published" / model / "annotations.json", hold_after=400) as judge:
        proc = subprocess.Popen(
            [sys.executable, "-m", "expo", *cli_args(ae, model, out, cache, judge)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 120
            while True:  # half judged, the rest held at the server: wait until the journal has them all
                lines = journal.read_text().count("\n") if journal.exists() else 0
                if judge.n_answered >= 400 and judge.n_held > 0 and lines == judge.n_answered:
                    break
                assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, (
                    f"no progress: {judge.n_answered} answered, {lines} journaled"
                )
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        first = judge.n_answered
        assert not (out / "leaderboard.csv").exists() and not (out / "annotations.json").exists()
        judge.release()

        assert main(cli_args(ae, model, out, cache, judge)) == 0
        assert judge.answered and max(judge.answered.values()) == 1, (
            "a delivered judgment was requested again"
        )
        assert judge.n_answered == 803 and first < 803
        assert judge.n_unmatched == 0 and judge.n_order_mismatch == 0
        assert_matches_published(out, ae, model)


def _subset(ae: Path, model: str, tmp_path: Path, n: int) -> tuple[Path, Path]:
    ref = json.loads((ae / "reference_outputs_gpt4_1106_preview.json").read_text())[:n]
    outs = json.loads((ae / "published" / f"{model}.json").read_text())[:n]
    (tmp_path / "ref.json").write_text(json.dumps(ref))
    (tmp_path / "outs.json").write_text(json.dumps(outs))
    return tmp_path / "ref.json", tmp_path / "outs.json"


def test_garbage_judge_trips_threshold_and_is_not_cached(ae, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = "zephyr-7b-sft-full"
    ref, outs = _subset(ae, model, tmp_path, 20)
    out, cache = tmp_path / "out", tmp_path / "cache"
    annotations = ae / "published" / model / "annotations.json"

    def args(judge, *extra):
        return [
            "alpaca-eval",
            "--model-outputs",
            str(outs),
            "--reference",
            str(ref),
            "--out",
            str(out),
            "--judge-base-url",
            judge.base_url,
            "--api-key-env",
            "EXPO_TEST_UNSET_KEY",
            "--cache-dir",
            str(cache),
            "--concurrency",
            "4",
            *extra,
        ]

    with ReplayJudge(annotations, mode="garbage") as garbage:
        assert main(args(garbage, "--max-failed-fraction", "0.5")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("expo alpaca-eval: error:")]
    assert len(errors) == 1 and errors[0] == err[-1] and "20 of 20 judgments failed" in errors[0], err[-3:]
    assert not out.exists() or not any(out.iterdir())
    journal = cache / "local--gpt-4-1106-preview" / "judgments.jsonl"
    assert not journal.exists() or journal.read_text().strip() == ""  # failures never become sticky

    with ReplayJudge(annotations) as good:  # the failed ones are asked again and succeed
        assert main(args(good)) == 0
        assert good.n_answered == 20 and good.n_unmatched == 0
    row = our_row(out)
    assert int(row["n_failed"]) == 0 and int(row["n_total"]) == 20
    assert "LC needs all" in row["lc_status"] or "unavailable" in row["lc_status"]
