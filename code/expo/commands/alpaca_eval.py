"""`expo alpaca-eval`: official AlpacaEval 2.0 (weighted GPT-4-Turbo annotator) for one model's outputs."""

from __future__ import annotations

import argparse

NAME = "alpaca-eval"
HELP = (
    "Judge one model's AlpacaEval outputs against the reference with alpaca_eval "
    "(weighted_alpaca_eval_gpt4_turbo semantics); writes OUT/annotations.json and OUT/leaderboard.csv."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-outputs", required=True, help="JSON list of instruction/output/generator records"
    )
    parser.add_argument(
        "--reference", required=True, help="reference outputs (gpt4_1106_preview), same format"
    )
    parser.add_argument("--out", required=True, help="output directory (annotations.json, leaderboard.csv)")
    parser.add_argument("--name", default=None, help="model name (default: the outputs' generator)")
    parser.add_argument(
        "--outputs-copy", default=None, help="also write the outputs with generator = name here"
    )
    parser.add_argument("--judge-model", default="gpt-4-1106-preview", help="judge model name")
    parser.add_argument(
        "--judge-base-url",
        default=None,
        help="OpenAI-compatible base URL (e.g. http://host:8000/v1); default OpenAI",
    )
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the judge API key"
    )
    parser.add_argument(
        "--cache-dir",
        default="resources/alpaca_eval_cache",
        help="judgment journal root; one subdirectory per judge",
    )
    parser.add_argument(
        "--df-gamed",
        default=None,
        help="local df_gamed.csv for the LC win rate; 'none' = no LC; default: the hub",
    )
    parser.add_argument(
        "--allow-prefix",
        action="store_true",
        help="the outputs may answer only the first N reference instructions (a prompt limit; no LC then)",
    )
    parser.add_argument(
        "--max-failed-fraction", type=float, default=0.0, help="fail when more judgments than this fail"
    )
    parser.add_argument("--concurrency", type=int, default=8, help="judge requests in flight")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="seconds per judge request")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.alpaca_eval import JudgeSettings, run_alpaca_eval

    judge = JudgeSettings(
        judge_model=args.judge_model,
        base_url=args.judge_base_url or None,
        api_key_env=args.api_key_env,
        request_timeout_s=args.request_timeout,
    )
    result = run_alpaca_eval(
        model_outputs=args.model_outputs,
        reference=args.reference,
        out_dir=args.out,
        judge=judge,
        name=args.name,
        cache_dir=args.cache_dir,
        df_gamed=args.df_gamed,
        max_failed_fraction=args.max_failed_fraction,
        concurrency=args.concurrency,
        outputs_copy=args.outputs_copy,
        allow_prefix=args.allow_prefix,
    )
    row = result.leaderboard
    print(
        f"{result.name}: win_rate={row['win_rate']:.4f} LC={row['length_controlled_winrate']} "
        f"n_wins={row['n_wins']} n_wins_base={row['n_wins_base']} n_draws={row['n_draws']} "
        f"failed={result.n_failed} requests={result.n_requests} reused={result.n_reused}"
    )
    return 0
