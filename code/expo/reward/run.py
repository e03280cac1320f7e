"""``expo reward``: score an outputs file (either format) and write one raw reward per line, atomically.

``run(RewardRequest(...))`` is the stage; the request's fields carry the CLI's and the DAG's defaults."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.generation.outputs import read_outputs
from expo.io.atomic import write_lines
from expo.reward.scoring import (
    DTYPES,
    RewardScorer,
    check_reward_model_config,
    encode_texts,
    padding_stats,
    reward_texts,
    verify_scores,
)

log = logging.getLogger(__name__)


@dataclass
class RewardRequest:
    """Score ``outputs`` with reward model ``rm`` into ``out``; ``verify`` > 0 re-scores that many records one by
    one (batch 1) and fails unless they match the batched scores (1e-4 in fp32, 5e-2 in bf16)."""

    rm: str
    outputs: str
    out: str
    batch_size: int = 8
    dtype: str = "auto"
    trust_remote_code: bool = False
    verify: int = 0


def run(req: RewardRequest) -> list[float]:
    """Score the outputs file and write one raw reward per line (atomically); return the scores."""
    rm, outputs, out = req.rm, req.outputs, req.out
    batch_size, dtype, trust_remote_code, verify = (
        req.batch_size,
        req.dtype,
        req.trust_remote_code,
        req.verify,
    )
    if batch_size <= 0:
        raise ExpoError(f"--batch-size must be positive, got {batch_size}")
    if dtype not in DTYPES:
        raise ExpoError(f"unknown --dtype {dtype!r} (choose from {', '.join(DTYPES)})")
    records = read_outputs(outputs)
    check_reward_model_config(rm, trust_remote_code)
    scorer = RewardScorer(rm, dtype, trust_remote_code)
    encoded = encode_texts(scorer.tokenizer, reward_texts(scorer.tokenizer, records))
    stats = padding_stats([len(e) for e in encoded], batch_size)
    saved = stats.padding_unsorted - stats.padding_sorted
    log.info(
        "reward: %d outputs, %d tokens; padded tokens with length-sorted batches of %d: %d, unsorted: %d "
        "(%d padding tokens saved, %.1f%% of the unsorted batch slots)",
        len(records), stats.real_tokens, batch_size, stats.padding_sorted, stats.padding_unsorted, saved,
        100.0 * saved / max(stats.slots_unsorted, 1),
    )  # fmt: skip
    scores = scorer.score_ids(encoded, batch_size, sort=True)
    if verify > 0:
        import torch

        tol = 1e-4 if scorer.dtype == torch.float32 else 5e-2
        worst = verify_scores(scorer, records[:verify], scores[:verify], tol)
        log.info(
            "reward: verified %d scores against batch-1 passes (max difference %.2e)",
            min(verify, len(records)),
            worst,
        )
    write_lines(out, [repr(float(s)) for s in scores])
    log.info("reward: wrote %s (mean reward %.4f)", Path(out), sum(scores) / len(scores))
    return scores
