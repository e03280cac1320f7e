"""``expo reward``: score an outputs file (either format) and write one raw reward per line, atomically.

``run(RewardRequest(...))`` is the stage; the request's fields carry the CLI's and the DAG's defaults. Several
outputs files (``outputs`` and ``out`` as equally long lists, e.g. every alpha of a pair's sweep) are scored
with ONE load of the reward model; every outputs file is read and checked before the model is loaded."""

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
    outputs: str | list[str]  # one file, or several (then ``out`` lists one rewards file per outputs file)
    out: str | list[str]
    batch_size: int = 8
    dtype: str = "auto"
    trust_remote_code: bool = False
    verify: int = 0


def _file_pairs(req: RewardRequest) -> list[tuple[str, str]]:
    outputs = [req.outputs] if isinstance(req.outputs, str) else list(req.outputs)
    outs = [req.out] if isinstance(req.out, str) else list(req.out)
    if len(outputs) != len(outs) or not outputs:
        raise ExpoError(
            f"{len(outputs)} --outputs file(s) but {len(outs)} --out file(s): give one rewards file per outputs file"
        )
    names = [str(Path(o)) for o in outs]
    dupes = sorted({o for o in names if names.count(o) > 1})
    if dupes:
        raise ExpoError(f"rewards file {dupes[0]} is given twice")
    return list(zip(outputs, outs, strict=True))


def run(req: RewardRequest) -> list[float] | list[list[float]]:
    """Score the outputs file(s) and write one raw reward per line (atomically, each as soon as it is scored);
    return the scores (a list per file when several were given)."""
    files = _file_pairs(req)
    if req.batch_size <= 0:
        raise ExpoError(f"--batch-size must be positive, got {req.batch_size}")
    if req.dtype not in DTYPES:
        raise ExpoError(f"unknown --dtype {req.dtype!r} (choose from {', '.join(DTYPES)})")
    all_records = [read_outputs(outputs) for outputs, _ in files]
    check_reward_model_config(req.rm, req.trust_remote_code)
    scorer = RewardScorer(req.rm, req.dtype, req.trust_remote_code)
    results = [
        _score(scorer, records, out, req.batch_size, req.verify)
        for records, (_, out) in zip(all_records, files, strict=True)
    ]
    return results[0] if isinstance(req.outputs, str) else results


def _score(scorer, records, out: str, batch_size: int, verify: int) -> list[float]:
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
