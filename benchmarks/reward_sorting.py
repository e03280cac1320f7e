"""Reward-model throughput with length-sorted vs arrival-order batches (tiny demo RM, CPU by default).

    python benchmarks/reward_sorting.py [--demo resources/demo] [--n 800] [--batch-size 8]

Builds the demo first when ``--demo`` does not exist. Scores ``--n`` synthetic outputs of mixed length
(log-uniform, ~5 to ~400 tokens) twice - batches formed after sorting by token length, and batches in file
order - and prints both throughputs, the padding tokens each batching needs, and the largest score difference
between the two (must be ~0: sorting changes speed, not scores).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import torch

from expo.generation.outputs import OutputRecord
from expo.reward.scoring import RewardScorer, encode_texts, padding_stats, reward_texts

WORDS = (
    "tea water boil leaves minutes sleep night quiet dark room run slowly week legs rest bread flour salt yeast "
    "bake golden map river city north great question thank you for asking first then finally because"
).split()


def synthetic_outputs(n: int, seed: int) -> list[OutputRecord]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        n_words = int(math.exp(rng.uniform(math.log(3), math.log(250))))
        records.append(OutputRecord(f"Question {i}: tell me about {rng.choice(WORDS)}.",
                                    " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."))  # fmt: skip
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", default="resources/demo", help="built demo dir (built here when missing)")
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    demo = Path(args.demo)
    if not demo.exists():
        from expo.demo import build_demo

        build_demo(demo)
    scorer = RewardScorer(str(demo / "reward"))
    records = synthetic_outputs(args.n, seed=0)
    encoded = encode_texts(scorer.tokenizer, reward_texts(scorer.tokenizer, records))
    lengths = [len(e) for e in encoded]
    stats = padding_stats(lengths, args.batch_size)
    scorer.score_ids(encoded[:16], args.batch_size, progress=False)  # warm-up
    results = {}
    for label, sort in (("sorted", True), ("unsorted", False)):
        start = time.perf_counter()
        scores = scorer.score_ids(encoded, args.batch_size, sort=sort, progress=False)
        seconds = time.perf_counter() - start
        results[label] = (seconds, scores)
    print(f"reward model: {demo / 'reward'} ({scorer.dtype}, {scorer.device}, {args.threads} threads)")
    print(f"outputs: {len(records)}, tokens: {stats.real_tokens} (min {min(lengths)}, median "
          f"{sorted(lengths)[len(lengths) // 2]}, max {max(lengths)}), batch size {args.batch_size}")  # fmt: skip
    for label, (seconds, _) in results.items():
        padding = stats.padding_sorted if label == "sorted" else stats.padding_unsorted
        print(f"{label:>8}: {len(records) / seconds:8.1f} outputs/s  {stats.real_tokens / seconds:9.0f} tokens/s  "
              f"({seconds:.2f} s, {padding} padding tokens)")  # fmt: skip
    saved = stats.padding_unsorted - stats.padding_sorted
    print(f"padding saved by sorting: {saved} tokens "
          f"({100.0 * saved / max(stats.padding_unsorted, 1):.1f}% of the unsorted padding; batch slots "
          f"{stats.slots_sorted} vs {stats.slots_unsorted})")  # fmt: skip
    print(f"speed-up: {results['unsorted'][0] / results['sorted'][0]:.2f}x")
    diff = max(abs(a - b) for a, b in zip(results["sorted"][1], results["unsorted"][1], strict=True))
    print(f"max |score sorted - score unsorted|: {diff:.2e}")


if __name__ == "__main__":
    main()
