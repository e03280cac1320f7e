"""The AlpacaEval stage in the DAG: when it joins, the flags it passes, and one real rule run via Snakemake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from expo.benchmarks.alpaca_eval.workflow_args import alpaca_eval_cli_args, resource_path, stage_status
from helpers.replay_judge import ReplayJudge

ROOT = Path(__file__).resolve().parents[1]


def test_stage_joins_only_with_a_judge():
    on, why = stage_status({}, environ={})
    assert not on and why.startswith("AlpacaEval stage left out:") and "$OPENAI_API_KEY" in why
    assert "\n" not in why
    assert stage_status({}, environ={"OPENAI_API_KEY": "x"})[0]
    assert stage_status({"alpaca_eval": {"base_url": "http://h:8000/v1"}}, environ={})[0]
    assert not stage_status({"alpaca_eval": {"enabled": False, "base_url": "http://h/v1"}}, environ={})[0]
    on, why = stage_status({"alpaca_eval": {"api_key_env": "JUDGE_KEY"}}, environ={"OPENAI_API_KEY": "x"})
    assert not on and "$JUDGE_KEY" in why


def test_cli_args_from_config():
    cfg = {"alpaca_eval": {"base_url": "http://h:8000/v1", "judge_model": "my judge", "df_gamed": None}}
    args = alpaca_eval_cli_args(cfg)
    assert "--judge-base-url http://h:8000/v1" in args and "--judge-model 'my judge'" in args
    assert "--df-gamed none" in args and "--allow-prefix" not in args
    assert "--df-gamed resources/alpaca_eval/df_gamed.csv" in alpaca_eval_cli_args({})
    assert "--allow-prefix" in alpaca_eval_cli_args({"prompts": {"alpaca_eval": {"limit": 20}}})
    assert resource_path({}, "reference") == "resources/alpaca_eval/alpaca_eval_gpt4_baseline.json"
    assert resource_path({"alpaca_eval": {"reference": "/data/ref.json"}}, "reference") == "/data/ref.json"


@pytest.mark.slow
def test_rule_runs_against_a_local_judge(shared_data, tmp_path):
    ae = shared_data / "alpaca_eval"
    work = tmp_path / "work"
    (work / "outputs_alpaca").mkdir(parents=True)
    for d in ("sft", "aligned", "rm"):
        (work / d).mkdir()
    outputs = json.loads((ae / "published" / "zephyr_0.05.json").read_text())[:20]
    for rec in outputs:
        rec["generator"] = "whatever-generate-wrote"
    (work / "outputs_alpaca" / "zephyr_0.05_alpha0.0.json").write_text(json.dumps(outputs))
    (work / "Snakefile").write_text(
        textwrap.dedent(
            f"""
            include: "{ROOT}/workflow/rules/common.smk"
            include: "{ROOT}/workflow/rules/alpaca_eval.smk"

            rule all:
                input:
                    alpaca_eval_result_files("zephyr_0.05_alpha0.0") if alpaca_eval_enabled() else [],
            """
        )
    )
    with ReplayJudge(ae / "published" / "zephyr_0.05" / "annotations.json") as judge:
        config = {
            "reward_model": "./rm",
            "pairs": {"zephyr_0.05": {"sft": "./sft", "aligned": "./aligned", "alpha": 25.0, "size_b": 7}},
            "prompts": {"alpaca_eval": {"source": "hub", "limit": 20}},
            "alpaca_eval": {
                "base_url": judge.base_url,
                "api_key_env": "EXPO_TEST_UNSET_KEY",
                "reference": str(ae / "reference_outputs_gpt4_1106_preview.json"),
                "df_gamed": None,
            },
        }
        (work / "config.yaml").write_text(json.dumps(config))
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config.yaml"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
        )
        log = work / "logs/alpaca_eval/zephyr_0.05_alpha0.0.log"
        assert proc.returncode == 0, proc.stderr[-3000:] + (log.read_text()[-2000:] if log.exists() else "")
        assert judge.n_answered == 20
    board = pd.read_csv(work / "results_alpaca/zephyr_0.05_alpha0.0/leaderboard.csv", index_col=0)
    assert list(board.index) == ["zephyr_0.05_alpha0.0"]
    assert board.loc["zephyr_0.05_alpha0.0", "n_total"] == 20
    assert "LC disabled" in board.loc["zephyr_0.05_alpha0.0", "lc_status"]
    copied = json.loads((work / "results_alpaca/zephyr_0.05_alpha0.0.json").read_text())
    assert {r["generator"] for r in copied} == {"zephyr_0.05_alpha0.0"}
    annotations = json.loads((work / "results_alpaca/zephyr_0.05_alpha0.0/annotations.json").read_text())
    assert len(annotations) == 20

    # without a judge the stage is left out, in one line, and nothing runs
    config["alpaca_eval"] = {"api_key_env": "EXPO_TEST_UNSET_KEY"}
    (work / "config.yaml").write_text(json.dumps(config))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", "config.yaml"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "AlpacaEval stage left out" in line]
    assert len(lines) == 1 and "$EXPO_TEST_UNSET_KEY" in lines[0]
