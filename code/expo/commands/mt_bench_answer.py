"""``expo mt-bench-answer``: answer the MT-Bench questions (2 turns) in FastChat's model_answer format."""

from __future__ import annotations

import argparse

NAME = "mt-bench-answer"
HELP = "generate MT-Bench answers (FastChat format, per-category temperatures) with the model's chat template"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory (Hugging Face format)")
    parser.add_argument("--questions", required=True, help="MT-Bench question.jsonl")
    parser.add_argument("--out", required=True, help="answer file model_answer/<model-id>.jsonl")
    parser.add_argument("--model-id", required=True, help="model_id written in each record (the file stem)")
    parser.add_argument("--backend", default="vllm", help="vllm (GPU) or transformers")
    parser.add_argument("--max-new-tokens", type=int, default=1024, help="FastChat's default 1024")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--batch-size", type=int, help="prompts per batch (vllm: all, transformers: 8)")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--chat-template", help="Jinja chat template file for models without one")
    parser.add_argument("--stop-token-ids", type=int, nargs="*", default=[], help="extra stop token ids")
    parser.add_argument("--tensor-parallel-size", type=int, help="vLLM only")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.answers import AnswerRequest, generate_answers

    generate_answers(
        AnswerRequest(
            model=args.model,
            questions=args.questions,
            out=args.out,
            model_id=args.model_id,
            backend=args.backend,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            batch_size=args.batch_size,
            trust_remote_code=args.trust_remote_code,
            chat_template=args.chat_template,
            stop_token_ids=tuple(args.stop_token_ids or ()),
            tensor_parallel_size=args.tensor_parallel_size,
        )
    )
    return 0
