"""`expo alpaca-eval` checks that need no full judging run: input, judge and LC errors, configs, journal."""

from __future__ import annotations

import json
import math
import os
import socket
import stat

import numpy as np
import pandas as pd
import pytest
import yaml

from expo.benchmarks.alpaca_eval.journal import is_valid_preference, judge_journal
from expo.benchmarks.alpaca_eval.judge import (
    OFFICIAL_ANNOTATOR,
    AlpacaEvalJudge,
    client_config,
    write_annotator_config,
)
from expo.benchmarks.alpaca_eval.length_control import make_metric, resolve_df_gamed
from expo.cli import main
from expo.errors import ExpoError
from helpers.replay_judge import ReplayJudge


def records(n: int, generator: str, prefix: str = "out") -> list[dict]:
    return [
        {"dataset": "d", "instruction": f"instruction {i}", "output": f"{prefix} {i}", "generator": generator}
        for i in range(n)
    ]


def write(path, obj) -> str:
    path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return str(path)


def run_cli(capsys, *args: str) -> tuple[int, str]:
    rc = main(["alpaca-eval", *args])
    err = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in err if line.startswith("expo alpaca-eval: error:")]
    assert rc == 0 or len(errors) == 1, err
    return rc, (errors[0] if errors else "")


@pytest.fixture
def files(tmp_path):
    ref = write(tmp_path / "ref.json", records(5, "gpt4_1106_preview", "ref"))
    return tmp_path, ref


def base_args(tmp_path, ref, outs, *extra):
    return [
        "--model-outputs",
        outs,
        "--reference",
        ref,
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--api-key-env",
        "EXPO_TEST_UNSET_KEY",
        "--judge-base-url",
        "http://127.0.0.1:9/v1",
        *extra,
    ]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r[3].update(instruction="something else"), "instruction at index 3 does not match"),
        (lambda r: r[2].update(generator="other-model"), "mixed generators in one file"),
        (lambda r: r[1].pop("output"), "record 1 field 'output' is missing"),
        (lambda r: r[4].update(output=None), "record 4 field 'output' is a NoneType"),
        (lambda r: r.pop(), "4 records but the reference"),
        (lambda r: [x.update(generator="gpt4_1106_preview") for x in r], "is the reference's generator"),
    ],
)
def test_bad_model_outputs_fail_before_judging(files, capsys, mutate, expected):
    tmp_path, ref = files
    outs = records(5, "my-model")
    mutate(outs)
    rc, err = run_cli(capsys, *base_args(tmp_path, ref, write(tmp_path / "outs.json", outs)))
    assert rc == 2 and expected in err and "outs.json" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_malformed_files(files, capsys):
    tmp_path, ref = files
    rc, err = run_cli(capsys, *base_args(tmp_path, ref, write(tmp_path / "outs.json", '[{"instruction": ')))
    assert rc == 2 and "outs.json: malformed JSON" in err
    rc, err = run_cli(capsys, *base_args(tmp_path, ref, write(tmp_path / "outs.json", '{"a": 1}')))
    assert rc == 2 and "expected a non-empty JSON list" in err
    dup = write(tmp_path / "dup.json", records(2, "gpt4_1106_preview") * 2)
    rc, err = run_cli(capsys, *base_args(tmp_path, dup, write(tmp_path / "o.json", records(4, "m"))))
    assert rc == 2 and "reference" in err and "index 2 repeats index 0" in err


def test_missing_api_key(files, capsys, monkeypatch):
    tmp_path, ref = files
    monkeypatch.delenv("EXPO_TEST_UNSET_KEY", raising=False)
    outs = write(tmp_path / "outs.json", records(5, "my-model"))
    args = base_args(tmp_path, ref, outs)[:-2]  # no base URL: the OpenAI judge needs a key
    rc, err = run_cli(capsys, *args)
    assert rc == 2 and "EXPO_TEST_UNSET_KEY is not set" in err
    assert not (tmp_path / "out").exists()


def test_unreachable_judge(files, capsys):
    tmp_path, ref = files
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outs = write(tmp_path / "outs.json", records(5, "my-model"))
    args = base_args(tmp_path, ref, outs)[:-1] + [f"http://127.0.0.1:{port}/v1"]
    rc, err = run_cli(capsys, *args)
    assert rc == 2 and "unreachable" in err and str(port) in err
    assert not (tmp_path / "out").exists()


def test_judge_without_the_model(files, capsys, shared_data):
    tmp_path, ref = files
    outs = write(tmp_path / "outs.json", records(5, "my-model"))
    annotations = shared_data / "alpaca_eval/published/zephyr-7b-sft-full/annotations.json"
    with ReplayJudge(annotations) as judge:
        args = base_args(tmp_path, ref, outs)[:-1] + [judge.base_url, "--judge-model", "llama-judge"]
        rc, err = run_cli(capsys, *args)
        assert judge.n_requests == 0
    assert rc == 2 and "does not serve model 'llama-judge'" in err


def test_missing_df_gamed_file_is_an_error(files, capsys, shared_data):
    tmp_path, ref = files
    outs = write(tmp_path / "outs.json", records(5, "my-model"))
    annotations = shared_data / "alpaca_eval/published/zephyr-7b-sft-full/annotations.json"
    with ReplayJudge(annotations) as judge:
        args = base_args(tmp_path, ref, outs)[:-1] + [
            judge.base_url,
            "--df-gamed",
            str(tmp_path / "nope.csv"),
        ]
        rc, err = run_cli(capsys, *args)
        assert judge.n_requests == 0
    assert rc == 2 and "nope.csv: file not found" in err


def test_annotator_config(tmp_path):
    official = AlpacaEvalJudge()
    path = write_annotator_config(official, tmp_path / official.slug)
    cfg = yaml.safe_load(path.read_text())
    assert list(cfg) == [OFFICIAL_ANNOTATOR] and official.slug == "openai--gpt-4-1106-preview"
    entry = cfg[OFFICIAL_ANNOTATOR]
    template = entry["prompt_template"]
    assert os.path.isabs(template) and os.path.isfile(template) and template.endswith("alpaca_eval_clf.txt")
    assert entry["completions_kwargs"]["model_name"] == "gpt-4-1106-preview"
    assert entry["completions_kwargs"]["requires_chatml"] is True
    assert entry["completions_kwargs"]["top_logprobs"] == 5 and entry["completions_kwargs"]["max_tokens"] == 1
    assert entry["fn_completion_parser"] == "logprob_parser"
    assert entry["completion_parser_kwargs"] == {
        "numerator_token": "m",
        "denominator_tokens": ["m", "M"],
        "is_binarize": False,
    }
    local = AlpacaEvalJudge(judge_model="meta-llama/Llama-3-70B-Instruct", base_url="http://h:8000/v1")
    assert local.slug == "local--meta-llama_Llama-3-70B-Instruct"
    assert local.annotator_name != OFFICIAL_ANNOTATOR  # another judge never shares annotations


def test_client_config_is_private_and_keyless(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "outer-key")
    judge = AlpacaEvalJudge(base_url="http://127.0.0.1:1234/v1", api_key_env="MY_JUDGE_KEY")
    with client_config(judge, "sk-test-secret-123456") as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = path.read_text()
        assert "sk-test-secret" not in text
        assert yaml.safe_load(text)["default"][0]["base_url"] == "http://127.0.0.1:1234/v1"
        assert os.environ["OPENAI_API_KEY"] == "sk-test-secret-123456"
    assert not path.exists() and os.environ["OPENAI_API_KEY"] == "outer-key"


def test_key_reaches_the_judge_but_no_file(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-secret-abcdef123")
    ae = shared_data / "alpaca_eval"
    ref = json.loads((ae / "reference_outputs_gpt4_1106_preview.json").read_text())[:6]
    outs = json.loads((ae / "published/zephyr_0.05.json").read_text())[:6]
    write(tmp_path / "ref.json", ref)
    write(tmp_path / "outs.json", outs)
    with ReplayJudge(ae / "published/zephyr_0.05/annotations.json") as judge:
        rc = main(
            [
                "alpaca-eval",
                "--model-outputs",
                str(tmp_path / "outs.json"),
                "--reference",
                str(tmp_path / "ref.json"),
            ]
            + [
                "--out",
                str(tmp_path / "out"),
                "--cache-dir",
                str(tmp_path / "cache"),
                "--name",
                "zephyr_0.05_alpha0.0",
            ]
            + ["--judge-base-url", judge.base_url, "--api-key-env", "MY_JUDGE_KEY", "--concurrency", "2"]
        )
        assert rc == 0 and judge.n_answered == 6
        assert judge.auth == {"Bearer sk-test-secret-abcdef123"}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"sk-test-secret" not in path.read_bytes(), path
    board = pd.read_csv(tmp_path / "out/leaderboard.csv", index_col=0)
    assert list(board.index) == ["zephyr_0.05_alpha0.0"] and board.loc["zephyr_0.05_alpha0.0", "n_total"] == 6


def test_journal_survives_a_cut_line(tmp_path):
    path = tmp_path / "judgments.jsonl"

    def entry(key, text, price, seconds):
        return {"key": key, "judge": "judge", "completion": {"text": text}, "price": price, "time": seconds}

    journal = judge_journal(tmp_path)
    journal.append(entry("k1", "m", 0.01, 0.1))
    journal.close()
    with open(path, "a") as fh:
        fh.write('{"key": "k2", "judge": "judge", "compl')  # a kill mid-line
    again = judge_journal(tmp_path)
    assert set(again.records) == {"k1"}
    again.append(entry("k3", "M", 0.0, 0.0))
    again.close()
    assert set(judge_journal(tmp_path).records) == {"k1", "k3"}


def test_valid_preference():
    assert is_valid_preference([1.0]) and is_valid_preference([2.0]) and is_valid_preference([1.37])
    for bad in ([math.nan], [None], [0.5], [2.5], [], [1.5, 1.5], "x", None):
        assert not is_valid_preference(bad)


def synthetic_df_gamed(path, n: int = 805) -> str:
    rng = np.random.default_rng(0)
    difficulty = rng.normal(size=n)
    frames = []
    for model in ("gamed_long", "gamed_short"):
        frames.append(
            pd.DataFrame(
                {
                    "model": model,
                    "index": np.arange(n),
                    "preference": rng.uniform(size=n),
                    "std_delta_len": rng.normal(size=n),
                    "instruction_difficulty": difficulty,
                    "not_gamed_baseline": False,
                }
            )
        )
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)
    return str(path)


def alpaca_eval_lc(annotations: pd.DataFrame, df_gamed: str, monkeypatch) -> dict:
    """alpaca_eval's own LC computation called directly, its hub download answered by the local file."""
    from alpaca_eval.metrics import glm_winrate

    with monkeypatch.context() as m:
        m.setattr(glm_winrate, "hf_hub_download", lambda *a, **k: df_gamed)
        return glm_winrate.get_length_controlled_winrate(
            annotations.copy(), save_weights_dir=None, is_add_glm_preference_inplace=False
        )


def test_lc_from_local_df_gamed(shared_data, tmp_path, monkeypatch):
    annotations = pd.read_json(shared_data / "alpaca_eval/published/zephyr-7b-sft-full/annotations.json")
    df_gamed = synthetic_df_gamed(tmp_path / "df_gamed.csv")
    gamed = resolve_df_gamed(df_gamed)
    assert gamed.path is not None and gamed.n_instructions == 805
    metric = make_metric(gamed, len(annotations))
    out = metric(annotations)
    assert out["lc_status"] == "ok"
    ref = alpaca_eval_lc(annotations, df_gamed, monkeypatch)
    assert out["length_controlled_winrate"] == pytest.approx(ref["length_controlled_winrate"], abs=1e-9)
    assert out["lc_standard_error"] == pytest.approx(ref["lc_standard_error"], abs=1e-9)
    assert out["length_controlled_winrate"] != pytest.approx(
        out["win_rate"], abs=1e-3
    )  # LC is not the raw WR
    assert out["n_wins"] == 34  # the plain win-rate metrics ride along

    short = make_metric(gamed, 20)(annotations.iloc[:20])
    assert math.isnan(short["length_controlled_winrate"]) and "this eval set has 20" in short["lc_status"]


def test_lc_unavailable_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gamed = resolve_df_gamed(None)
    assert gamed.path is None and "HF_HUB_OFFLINE" in gamed.reason
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ExpoError, match="lacks columns"):
        resolve_df_gamed(tmp_path / "bad.csv")


def test_judge_http_error_is_one_line_and_leaves_no_output(shared_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ae = shared_data / "alpaca_eval"
    write(
        tmp_path / "ref.json", json.loads((ae / "reference_outputs_gpt4_1106_preview.json").read_text())[:5]
    )
    write(tmp_path / "outs.json", json.loads((ae / "published/zephyr_0.05.json").read_text())[:5])
    # a judge that recorded another model: every request is unknown to it (HTTP 404)
    with ReplayJudge(ae / "published/zephyr-7b-sft-full/annotations.json") as judge:
        args = base_args(tmp_path, str(tmp_path / "ref.json"), str(tmp_path / "outs.json"))[:-1] + [
            judge.base_url
        ]
        rc, err = run_cli(capsys, *args)
        assert judge.n_unmatched >= 1
    assert rc == 2 and "failed: NotFoundError" in err and "a rerun resumes" in err
    assert not (tmp_path / "out").exists()
