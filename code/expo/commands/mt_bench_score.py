"""``expo mt-bench-score``: merge MT-Bench judgment files and write turn 1 / turn 2 / overall per model."""

from __future__ import annotations

import argparse

NAME = "mt-bench-score"
HELP = "merge MT-Bench judgment files (FastChat format) and write per-model scores (CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judgments", nargs="+", required=True, help="judgment JSONL files")
    parser.add_argument(
        "--out", required=True, help="scores CSV: model,turn1,turn2,score,n_judgments,n_failed"
    )
    parser.add_argument(
        "--merged", help="also write all judgments into this one JSONL (e.g. gpt-4_single.jsonl)"
    )
    parser.add_argument("--judge", help="only judgments by this judge model")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.judge_client import read_judge_note, write_judge_note
    from expo.benchmarks.mt_bench.scores import mt_bench_scores, read_judgments
    from expo.io.atomic import atomic_file, write_jsonl

    records = read_judgments(args.judgments)
    scores = mt_bench_scores(records, judge=args.judge)
    judges = [j for path in args.judgments for j in read_judge_note(path)]
    judges = [j for j in judges if args.judge is None or j.get("judge_model") == args.judge]
    if not judges:  # judgments without a note: at least the judge model names from the records
        judges = [{"judge_model": m} for m in {(r.get("judge") or [None])[0] for r in records} if m]
        judges = [j for j in judges if args.judge is None or j["judge_model"] == args.judge]
    if args.merged:
        write_judge_note(args.merged, judges)
        write_jsonl(args.merged, records)
    write_judge_note(args.out, judges)
    with atomic_file(args.out) as fh:
        scores.to_csv(fh, index=False, float_format="%.4f")
    print(scores.to_string(index=False))
    return 0
