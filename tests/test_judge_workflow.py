"""The MT-Bench rules with the stage enabled run for real through Snakemake: fetch (local folder) -> answer with
the demo model -> judge on a loopback judge with known scores -> scores. (The full DAG with judges configured
is dry-run in tests/test_demo_pipeline.py, after the demo's selection exists.)"""

from __future__ import annotations

import csv
import json
import statistics
import textwrap
from pathlib import Path

import pytest

from helpers.snakemake_run import run_snakemake
from test_mt_bench_judge import KEY, FakeJudge, base_score

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mt_bench_rules_run_against_a_local_judge(shared_data, demo_dir, tmp_path):
    questions = [
        json.loads(x) for x in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines()
    ]
    work = tmp_path / "work"
    work.mkdir()
    (work / "Snakefile").write_text(
        textwrap.dedent(
            f"""
            include: "{ROOT}/workflow/rules/common.smk"
            include: "{ROOT}/workflow/rules/mt_bench.smk"


            def benchmark_models(pair):  # no selection checkpoint here: the aligned model only
                return [model_id(pair, "0.0")]


            rule all:
                input:
                    mt_bench_targets() if mt_bench_enabled() else [],
            """
        )
    )
    with FakeJudge(questions) as judge:
        config = {
            "reward_model": str(demo_dir / "reward"),
            "generation": {"backend": "transformers", "max_new_tokens": 4},
            "pairs": {
                "demo": {
                    "sft": str(demo_dir / "sft"),
                    "aligned": str(demo_dir / "aligned"),
                    "alpha": 0.5,
                    "size_b": 0.001,
                }
            },
            "mt_bench": {
                "base_url": judge.url,
                "api_key_env": "EXPO_TEST_JUDGE_KEY",
                "data": str(shared_data / "mt_bench"),
                "max_new_tokens": 4,
                "concurrency": 4,
            },
        }
        (work / "config.yaml").write_text(json.dumps(config))
        res = run_snakemake(
            ["--cores", "2", "--configfile", "config.yaml"], cwd=work, EXPO_TEST_JUDGE_KEY=KEY
        )
        logs = (
            "".join(p.read_text()[-1500:] for p in (work / "logs").rglob("*.log"))
            if (work / "logs").is_dir()
            else ""
        )
        assert res.returncode == 0, res.stderr[-3000:] + logs
        assert len(judge.requests) == 2 * len(questions)  # one judgment per question and turn, none twice
        assert judge.auth == {f"Bearer {KEY}"}
    for path in work.rglob("*"):  # the key reached the judge but no file
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path
    answers = [
        json.loads(x) for x in (work / "results_mtbench/mt_bench/model_answer/demo_alpha0.0.jsonl").open()
    ]
    assert sorted(a["question_id"] for a in answers) == sorted(q["question_id"] for q in questions)
    assert {a["model_id"] for a in answers} == {"demo_alpha0.0"}
    with open(work / "results_mtbench/mt_bench/gpt-4_scores.csv", newline="") as fh:
        rows = {r["model"]: r for r in csv.DictReader(fh)}
    turn1 = [base_score(q["question_id"], 1) for q in questions]
    turn2 = [base_score(q["question_id"], 2) for q in questions]
    row = rows["demo_alpha0.0"]
    assert float(row["turn1"]) == pytest.approx(statistics.fmean(turn1), abs=1e-12)
    assert float(row["turn2"]) == pytest.approx(statistics.fmean(turn2), abs=1e-12)
    assert float(row["score"]) == pytest.approx(statistics.fmean(turn1 + turn2), abs=1e-12)
    merged = (work / "results_mtbench/mt_bench/model_judgment/gpt-4_single.jsonl").read_text().splitlines()
    assert len(merged) == 2 * len(questions)
