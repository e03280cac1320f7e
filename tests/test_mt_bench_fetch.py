"""`expo fetch-mt-bench --from` and the mt_bench / lmeval config helpers the DAG uses."""

from __future__ import annotations

import pytest

from expo.benchmarks.lmeval.workflow_args import enabled_suites, lmeval_cli_args, result_files
from expo.benchmarks.mt_bench.fetch import FILES, git_blob_sha1
from expo.benchmarks.mt_bench.workflow_args import (
    aggregate_files,
    answer_cli_args,
    judge_cli_args,
    judgment_file,
    stage_status,
)
from expo.cli import main


def test_fetch_from_local_folder_matches_fastchat_tag(shared_data, tmp_path, caplog):
    out = tmp_path / "resources" / "mt_bench"
    assert main(["fetch-mt-bench", "--out", str(out), "--from", str(shared_data / "mt_bench")]) == 0
    for name, (_, blob) in FILES.items():
        assert git_blob_sha1((out / name).read_bytes()) == blob, name  # identical to FastChat v0.2.36
    assert "differs" not in caplog.text
    assert len((out / "question.jsonl").read_text().splitlines()) == 80


def test_fetch_rejects_incomplete_folder(shared_data, tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "question.jsonl").write_bytes((shared_data / "mt_bench" / "question.jsonl").read_bytes())
    out = tmp_path / "out"
    assert main(["fetch-mt-bench", "--out", str(out), "--from", str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no judge_prompts.jsonl" in err
    assert not out.exists()


CONFIG = {
    "pairs": {
        "p": {
            "sft": "a/b",
            "aligned": "a/c",
            "alpha": 0.3,
            "size_b": 7,
            "stop_token_ids": [7],
            "trust_remote_code": True,
        }
    },
    "generation": {"backend": "transformers"},
}


@pytest.mark.parametrize(
    ("section", "env", "on", "words"),
    [
        ({}, {}, False, "MT-Bench stage left out: no judge configured"),
        ({}, {"OPENAI_API_KEY": "x"}, True, "key from $OPENAI_API_KEY"),
        ({"base_url": "http://h:8000/v1"}, {}, True, "at http://h:8000/v1"),
        ({"enabled": False, "base_url": "http://h/v1"}, {"OPENAI_API_KEY": "x"}, False, "enabled is false"),
    ],
)
def test_mt_bench_stage_status(section, env, on, words):
    enabled, why = stage_status({**CONFIG, "mt_bench": section}, env)
    assert enabled is on and words in why and "\n" not in why


def test_mt_bench_and_lmeval_cli_args():
    cfg = {
        **CONFIG,
        "mt_bench": {"judge_model": "meta/judge 70b", "base_url": "http://h/v1", "concurrency": 3},
    }
    assert answer_cli_args(cfg, "p") == (
        "--backend transformers --max-new-tokens 1024 --stop-token-ids 7 --trust-remote-code"
    )
    assert judge_cli_args(cfg).endswith("--judge-base-url http://h/v1 --concurrency 3")
    assert "--judge-model 'meta/judge 70b'" in judge_cli_args(cfg)
    assert (
        judgment_file(cfg, "p_alpha0.0")
        == "results_mtbench/mt_bench/model_judgment/meta--judge--70b_single/p_alpha0.0.jsonl"
    )
    assert (
        aggregate_files(CONFIG)["judgments"] == "results_mtbench/mt_bench/model_judgment/gpt-4_single.jsonl"
    )
    assert enabled_suites(CONFIG) == ["v1"]
    lm = {
        **CONFIG,
        "lmeval": {"suites": {"v1": False, "local": True}, "backend": "hf", "device": "cpu", "limit": 5},
    }
    assert enabled_suites(lm) == ["local"]
    assert (
        lmeval_cli_args(lm, "p")
        == "--backend hf --batch-size auto --limit 5 --device cpu --trust-remote-code"
    )
    assert result_files("p_alpha0.3", "v1") == [
        f"results_lmeval/p_alpha0.3/{t}.json"
        for t in ("arc_challenge", "hellaswag", "mmlu", "winogrande", "gsm8k", "truthfulqa_mc2")
    ]
