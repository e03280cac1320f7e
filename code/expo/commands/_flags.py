"""CLI flags shared by several subcommands, defined once; every default comes from a request dataclass.

(A module whose name starts with ``_`` is not a subcommand.) ``field_default(cls, name)`` reads a dataclass
field's default, so ``expo <cmd> --help`` and the stage's request never disagree.
"""

from __future__ import annotations

import argparse
import dataclasses

from expo.benchmarks.judge_client import JudgeSettings


def field_default(cls, name: str):
    """The default of dataclass field ``name`` of ``cls`` (its factory's value for a factory field)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            raise KeyError(f"{cls.__name__}.{name} has no default")
    raise KeyError(f"{cls.__name__} has no field {name}")


def add_field_flag(parser: argparse.ArgumentParser, request_cls, flag: str, help: str, **kwargs) -> None:
    """``--some-flag`` for field ``some_flag`` of ``request_cls``, defaulting to that field's default."""
    name = flag.lstrip("-").replace("-", "_")
    parser.add_argument(flag, default=field_default(request_cls, name), help=help, **kwargs)


def request_from_args(cls, args: argparse.Namespace, **overrides):
    """Build dataclass ``cls`` from the parsed flags of the same names (``overrides`` for the others)."""
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(cls)
        if f.name not in overrides and hasattr(args, f.name)
    }
    return cls(**values, **overrides)


def add_judge_arguments(parser: argparse.ArgumentParser, judge_cls: type[JudgeSettings], request_cls) -> None:
    """The judge flags of `expo alpaca-eval` and `expo mt-bench-judge` (defaults: the stage's judge class)."""

    def d(name):
        return field_default(judge_cls, name)

    parser.add_argument(
        "--judge-model", default=d("judge_model"), help="judge model name (default %(default)s)"
    )
    parser.add_argument(
        "--judge-base-url",
        default=d("base_url"),
        help="OpenAI-compatible base URL (e.g. http://host:8000/v1); default OpenAI",
    )
    parser.add_argument(
        "--api-key-env",
        default=d("api_key_env"),
        help="environment variable holding the judge API key (default %(default)s; the key is never logged)",
    )
    for flag, kind, name, what in (
        ("--concurrency", int, "concurrency", "judge requests in flight"),
        ("--request-timeout", float, "request_timeout_s", "seconds per judge request"),
        ("--max-retries", int, "max_retries", "tries per judge request"),
        (
            "--retry-sleep",
            float,
            "retry_sleep_s",
            "seconds between tries (MT-Bench; AlpacaEval: openai's backoff)",
        ),
    ):
        parser.add_argument(flag, type=kind, default=d(name), help=f"{what} (default %(default)s)")
    parser.add_argument(
        "--max-failed-fraction",
        type=float,
        default=field_default(request_cls, "max_failed_fraction"),
        help="fail when a larger share of judgments fails (default %(default)s)",
    )


def judge_from_args(args: argparse.Namespace, judge_cls: type[JudgeSettings]) -> JudgeSettings:
    return request_from_args(
        judge_cls,
        args,
        base_url=args.judge_base_url or None,
        request_timeout_s=args.request_timeout,
        retry_sleep_s=args.retry_sleep,
    )


def sampling_from_args(args: argparse.Namespace, settings_cls):
    return request_from_args(settings_cls, args, stop_token_ids=tuple(args.stop_token_ids or ()))


def add_model_arguments(parser: argparse.ArgumentParser, request_cls, model: bool = True) -> None:
    """Model, backend and batching flags of the generating commands (`generate`, `mt-bench-answer`; `sweep`,
    whose model is its --aligned, without --model)."""
    if model:
        parser.add_argument("--model", required=True, help="model directory (Hugging Face format)")
    parser.add_argument(
        "--backend",
        choices=["vllm", "transformers"],
        default=field_default(request_cls, "backend"),
        help="vllm (GPU) or transformers (CPU or GPU); default %(default)s",
    )
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--chat-template", help="Jinja chat template file for models without one")
    parser.add_argument(
        "--batch-size", type=int, help="prompts per batch / progress flush (default: by backend)"
    )
    parser.add_argument(
        "--tensor-parallel-size", type=int, help="vLLM only (default: number of visible GPUs)"
    )
    parser.add_argument("--stop-token-ids", type=int, nargs="*", default=[], help="extra stop token ids")


def add_sampling_arguments(parser: argparse.ArgumentParser, settings_cls) -> None:
    """Sampling flags (defaults: the sampling settings class, the paper's vLLM settings)."""
    for name, kind in (
        ("temperature", float),
        ("top_k", int),
        ("top_p", float),
        ("presence_penalty", float),
        ("frequency_penalty", float),
    ):
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=field_default(settings_cls, name)
        )


def add_seed_and_length_arguments(parser: argparse.ArgumentParser, defaults_cls) -> None:
    parser.add_argument("--seed", type=int, default=field_default(defaults_cls, "seed"))
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=field_default(defaults_cls, "max_new_tokens"),
        help="default %(default)s",
    )
