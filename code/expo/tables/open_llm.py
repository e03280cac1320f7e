"""Open LLM Leaderboard v1 scores (0-100) from lm-eval results, old-harness or lm-eval 0.4.

As the ExPO paper reports the Open LLM Leaderboard v1: ARC-challenge acc_norm; HellaSwag acc_norm; MMLU =
unweighted mean of ``acc`` over the 57 subjects (old: ``hendrycksTest-<subject>``; 0.4: the ``mmlu_<subject>``
leaves, not the size-weighted ``mmlu`` group); TruthfulQA mc2 (old: ``truthfulqa_mc``/``mc2``; 0.4: ``truthfulqa_mc2``/``acc,none``);
Winogrande acc; GSM8K (old: ``acc``; 0.4: ``exact_match,strict-match``). average = mean of the six, left
empty unless all six are there. A benchmark the model was not run on is empty; a task present without its
metric is an error naming the file.
"""

from __future__ import annotations

from expo.errors import ExpoError
from expo.tables.lmeval_results import TaskResults

COLUMNS = ["model", "arc", "hellaswag", "mmlu", "truthfulqa", "winogrande", "gsm8k", "average"]
MMLU_SUBJECTS = 57
MMLU_GROUPS = {"mmlu", "mmlu_humanities", "mmlu_other", "mmlu_social_sciences", "mmlu_stem"}


def mmlu_leaves(res: TaskResults) -> list[str]:
    old = [t for t in res.metrics if t.startswith("hendrycksTest-")]
    if old:
        return old
    groups = set(res.group_subtasks) | MMLU_GROUPS
    return [t for t in res.metrics if t.startswith("mmlu_") and t not in groups]


def mmlu_score(res: TaskResults) -> float | None:
    leaves = mmlu_leaves(res)
    if not leaves:
        return None
    if len(leaves) != MMLU_SUBJECTS:
        files = sorted({str(res.source[t]) for t in leaves})
        raise ExpoError(f"{', '.join(files)}: {len(leaves)} MMLU subjects, expected {MMLU_SUBJECTS}")
    values = [res.metric(t, "acc,none", "acc") for t in leaves]
    return sum(values) / len(values)


def first_task(res: TaskResults, *tasks: str) -> str | None:
    return next((t for t in tasks if res.has(t)), None)


def open_llm_row(res: TaskResults) -> dict | None:
    """One row (0-100 scale); None when the model has none of the six benchmarks."""
    row: dict = {"model": res.model}
    task = first_task(res, "arc_challenge")
    row["arc"] = res.metric(task, "acc_norm,none", "acc_norm") if task else None
    task = first_task(res, "hellaswag")
    row["hellaswag"] = res.metric(task, "acc_norm,none", "acc_norm") if task else None
    row["mmlu"] = mmlu_score(res)
    task = first_task(res, "truthfulqa_mc2", "truthfulqa_mc")
    if task == "truthfulqa_mc2":
        row["truthfulqa"] = res.metric(task, "acc,none", "mc2")
    else:
        row["truthfulqa"] = res.metric(task, "mc2,none", "mc2") if task else None
    task = first_task(res, "winogrande")
    row["winogrande"] = res.metric(task, "acc,none", "acc") if task else None
    task = first_task(res, "gsm8k")
    row["gsm8k"] = res.metric(task, "exact_match,strict-match", "acc") if task else None
    keys = COLUMNS[1:-1]
    if all(row[k] is None for k in keys):
        return None
    for k in keys:
        if row[k] is not None:
            row[k] *= 100.0
    values = [row[k] for k in keys]
    row["average"] = sum(values) / len(values) if all(v is not None for v in values) else None
    return row


def open_llm_table(results: list[TaskResults]) -> list[dict]:
    return [r for r in (open_llm_row(res) for res in results) if r is not None]
