"""Open LLM Leaderboard v2 scores from lm-eval 0.4 ``leaderboard_*`` results, normalised as the Leaderboard does.

Normalisation, as documented by Hugging Face ("Scores Normalization",
https://huggingface.co/docs/leaderboards/open_llm_leaderboard/normalization): a raw score is mapped to
``(raw - lower) / (1 - lower) * 100`` where ``lower`` is the random-guess baseline ``1 / num_choices``; a raw
score below the baseline counts 0. Tasks with subtasks of different numbers of choices (BBH, MuSR) are
normalised per subtask and then averaged (unweighted); tasks without subtasks (GPQA 4 choices, MMLU-Pro 10
choices) are normalised once; generative tasks (IFEval, MATH Lvl 5) have lower bound 0, so only rescaled.
IFEval is the mean of prompt-level and instruction-level strict accuracy (the metric the Open LLM Leaderboard
reports as "inst_level_strict_acc and prompt_level_strict_acc"). Groups: GPQA and MATH use lm-eval's group
value when present, else the size-weighted mean of their subtasks (``n-samples``). The average is the mean
of the six, empty unless all six are there. Numbers of choices follow the lm-eval 0.4
``leaderboard/bbh_mc`` and ``leaderboard/musr`` task configs.
"""

from __future__ import annotations

import logging

from expo.tables.lmeval_results import TaskResults

log = logging.getLogger(__name__)

COLUMNS = ["model", "ifeval", "bbh", "math_lvl5", "gpqa", "musr", "mmlu_pro", "average"]

BBH_CHOICES = {
    "boolean_expressions": 2,
    "causal_judgement": 2,
    "date_understanding": 6,
    "disambiguation_qa": 3,
    "formal_fallacies": 2,
    "geometric_shapes": 11,
    "hyperbaton": 2,
    "logical_deduction_five_objects": 5,
    "logical_deduction_seven_objects": 7,
    "logical_deduction_three_objects": 3,
    "movie_recommendation": 6,
    "navigate": 2,
    "object_counting": 19,
    "penguins_in_a_table": 5,
    "reasoning_about_colored_objects": 18,
    "ruin_names": 6,
    "salient_translation_error_detection": 6,
    "snarks": 2,
    "sports_understanding": 2,
    "temporal_sequences": 4,
    "tracking_shuffled_objects_five_objects": 5,
    "tracking_shuffled_objects_seven_objects": 7,
    "tracking_shuffled_objects_three_objects": 3,
    "web_of_lies": 2,
}
MUSR_CHOICES = {"murder_mysteries": 2, "object_placements": 5, "team_allocation": 3}
GPQA_SUBTASKS = ["leaderboard_gpqa_diamond", "leaderboard_gpqa_extended", "leaderboard_gpqa_main"]
MATH_SUBTASKS = [
    f"leaderboard_math_{s}_hard"
    for s in (
        "algebra",
        "counting_and_prob",
        "geometry",
        "intermediate_algebra",
        "num_theory",
        "prealgebra",
        "precalc",
    )
]


def normalize(raw: float, lower: float) -> float:
    """Leaderboard normalisation of a raw score in [0, 1] to 0-100 above the random baseline ``lower``."""
    if raw < lower:
        return 0.0
    return (raw - lower) / (1.0 - lower) * 100.0


def per_subtask_mean(res: TaskResults, prefix: str, choices: dict[str, int], name: str) -> float | None:
    present = [s for s in choices if res.has(prefix + s)]
    if not present:
        return None
    if len(present) != len(choices):
        missing = sorted(set(choices) - set(present))
        log.warning("%s: %s lacks subtask(s) %s; left empty", res.model, name, ", ".join(missing))
        return None
    scores = [normalize(res.metric(prefix + s, "acc_norm,none"), 1.0 / choices[s]) for s in present]
    return sum(scores) / len(scores)


def group_raw(res: TaskResults, group: str, subtasks: list[str], key: str) -> float | None:
    if res.has(group) and key in res.metrics[group]:
        return res.metric(group, key)
    present = [t for t in subtasks if res.has(t)]
    if not present:
        return None
    if len(present) != len(subtasks):
        log.warning(
            "%s: %s lacks subtask(s) %s; left empty", res.model, group, sorted(set(subtasks) - set(present))
        )
        return None
    weights = [res.n_samples.get(t) for t in present]
    if any(w is None for w in weights):
        log.warning("%s: %s subtasks without n-samples; unweighted mean", res.model, group)
        weights = [1] * len(present)
    return sum(w * res.metric(t, key) for w, t in zip(weights, present, strict=True)) / sum(weights)


def open_llm_v2_row(res: TaskResults) -> dict | None:
    row: dict = {"model": res.model}
    if res.has("leaderboard_ifeval"):
        prompt = res.metric("leaderboard_ifeval", "prompt_level_strict_acc,none")
        inst = res.metric("leaderboard_ifeval", "inst_level_strict_acc,none")
        row["ifeval"] = normalize((prompt + inst) / 2.0, 0.0)
    else:
        row["ifeval"] = None
    row["bbh"] = per_subtask_mean(res, "leaderboard_bbh_", BBH_CHOICES, "leaderboard_bbh")
    raw = group_raw(res, "leaderboard_math_hard", MATH_SUBTASKS, "exact_match,none")
    row["math_lvl5"] = None if raw is None else normalize(raw, 0.0)
    raw = group_raw(res, "leaderboard_gpqa", GPQA_SUBTASKS, "acc_norm,none")
    row["gpqa"] = None if raw is None else normalize(raw, 0.25)
    row["musr"] = per_subtask_mean(res, "leaderboard_musr_", MUSR_CHOICES, "leaderboard_musr")
    if res.has("leaderboard_mmlu_pro"):
        row["mmlu_pro"] = normalize(res.metric("leaderboard_mmlu_pro", "acc,none"), 0.1)
    else:
        row["mmlu_pro"] = None
    keys = COLUMNS[1:-1]
    if all(row[k] is None for k in keys):
        return None
    values = [row[k] for k in keys]
    row["average"] = sum(values) / len(values) if all(v is not None for v in values) else None
    return row


def open_llm_v2_table(results: list[TaskResults]) -> list[dict]:
    return [r for r in (open_llm_v2_row(res) for res in results) if r is not None]
