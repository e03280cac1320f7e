"""One place per default: the config schema's defaults, the DAG's and the CLI's all equal the request dataclasses'."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from expo.benchmarks.alpaca_eval import workflow_args as alpaca_args
from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge
from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest
from expo.benchmarks.lmeval import workflow_args as lmeval_args
from expo.benchmarks.lmeval.runner import LmevalRequest
from expo.benchmarks.mt_bench import workflow_args as mt_args
from expo.benchmarks.mt_bench.requests import AnswerRequest, JudgeRequest, MtBenchJudge
from expo.cli import build_parser
from expo.generation import workflow_args as gen_args
from expo.generation.run import GenerateRequest
from expo.generation.sampling import SamplingSettings
from expo.reward.run import RewardRequest

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def schema_defaults(section: str) -> dict:
    props = yaml.safe_load(SCHEMA.read_text())["properties"][section]["properties"]
    return {key: spec["default"] for key, spec in props.items() if "default" in spec}


@pytest.mark.parametrize(
    "section, dag_defaults",
    [
        ("generation", gen_args.GENERATION_DEFAULTS),
        ("reward", gen_args.REWARD_DEFAULTS),
        ("alpaca_eval", alpaca_args.DEFAULTS),
        ("mt_bench", mt_args.DEFAULTS),
        ("lmeval", lmeval_args.DEFAULTS),
    ],
)
def test_schema_defaults_are_the_dataclass_defaults(section, dag_defaults):
    documented = schema_defaults(section)
    assert documented, section
    for key, value in documented.items():
        assert key in dag_defaults, f"{section}.{key} has a schema default but no dataclass default"
        assert dag_defaults[key] == value, (
            f"{section}.{key}: schema {value!r} vs dataclass {dag_defaults[key]!r}"
        )


def test_dag_defaults_come_from_the_dataclasses():
    sampling = SamplingSettings()
    assert gen_args.GENERATION_DEFAULTS["temperature"] == sampling.temperature == 0.7
    assert gen_args.GENERATION_DEFAULTS["backend"] == GenerateRequest.backend
    assert gen_args.REWARD_DEFAULTS["batch_size"] == RewardRequest.batch_size
    assert alpaca_args.DEFAULTS["judge_model"] == AlpacaEvalJudge().judge_model == "gpt-4-1106-preview"
    assert alpaca_args.DEFAULTS["cache_dir"] == AlpacaEvalRequest.cache_dir
    assert mt_args.DEFAULTS["judge_model"] == MtBenchJudge().judge_model == "gpt-4"
    assert mt_args.DEFAULTS["max_new_tokens"] == AnswerRequest.max_new_tokens == 1024
    assert lmeval_args.DEFAULTS["batch_size"] == LmevalRequest.batch_size


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_cli_defaults_are_the_dataclass_defaults():
    gen = parse("generate", "--model", "m", "--prompts", "p", "--out", "o.jsonl")
    sampling = SamplingSettings()
    for key in gen_args.SAMPLING_KEYS:
        assert getattr(gen, key) == getattr(sampling, key), key
    assert gen.backend == GenerateRequest.backend

    answer = parse("mt-bench-answer", "--model", "m", "--questions", "q", "--out", "o", "--model-id", "o")
    assert (answer.max_new_tokens, answer.seed, answer.backend) == (
        AnswerRequest.max_new_tokens,
        AnswerRequest.seed,
        AnswerRequest.backend,
    )

    for argv, judge, request in (
        (
            ["alpaca-eval", "--model-outputs", "o", "--reference", "r", "--out", "d"],
            AlpacaEvalJudge(),
            AlpacaEvalRequest,
        ),
        (
            ["mt-bench-judge", "--answers", "a", "--questions", "q", "--judge-prompts", "j", "--out", "o"],
            MtBenchJudge(),
            JudgeRequest,
        ),
    ):
        args = parse(*argv)
        assert (args.judge_model, args.judge_base_url, args.api_key_env) == (
            judge.judge_model,
            judge.base_url,
            judge.api_key_env,
        )
        assert (args.concurrency, args.request_timeout, args.max_retries, args.retry_sleep) == (
            judge.concurrency,
            judge.request_timeout_s,
            judge.max_retries,
            judge.retry_sleep_s,
        )
        assert args.max_failed_fraction == request.max_failed_fraction

    reward = parse("reward", "--rm", "r", "--outputs", "o", "--out", "x")
    assert (reward.batch_size, reward.dtype, reward.verify) == (
        RewardRequest.batch_size,
        RewardRequest.dtype,
        RewardRequest.verify,
    )
    lm = parse("lmeval", "--model", "m", "--out", "o")
    assert (lm.suite, lm.backend, lm.batch_size) == (LmevalRequest.suite, LmevalRequest.backend, "auto")


def test_judge_settings_are_checked():
    from expo.errors import ExpoError

    with pytest.raises(ExpoError, match="--concurrency 0 must be at least 1"):
        MtBenchJudge(concurrency=0)
    with pytest.raises(ExpoError, match="--judge-model is empty"):
        AlpacaEvalJudge(judge_model=" ")
    assert MtBenchJudge().host == "openai"
    assert MtBenchJudge(base_url="http://judge-node:8000/v1").identity() == {
        "judge_model": "gpt-4",
        "judge_host": "judge-node:8000",
    }
