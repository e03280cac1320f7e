"""The lm-eval suites: which tasks, with how many shots, run in which lm-eval invocation.

* ``v1`` — Open LLM Leaderboard v1 (the paper's table): ARC-challenge 25-shot, HellaSwag 10, MMLU 5,
  TruthfulQA mc2 0, Winogrande 5, GSM8K 5. ``--num_fewshot`` is global in lm-eval, so there is one
  invocation per shot count (25, 10, 5, 0).
* ``v2`` — the Open LLM Leaderboard v2 ``leaderboard`` group (MMLU-Pro, BBH, GPQA, MATH lvl 5, IFEval, MuSR)
  with each task's own shots, run with ``--apply_chat_template --fewshot_as_multiturn`` as the Open LLM Leaderboard
  runs chat models.
* ``local`` — ``expo_tiny_mc``, a 20-question multiple-choice task shipped with the package (offline smoke
  test and CI).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expo.errors import ExpoError


@dataclass(frozen=True)
class Invocation:
    """One ``lm_eval run``: tasks sharing a shot setting (None = each task's own)."""

    name: str
    tasks: tuple[str, ...]
    num_fewshot: int | None
    chat: bool = False  # --apply_chat_template --fewshot_as_multiturn
    local: bool = False  # tasks come from the packaged local YAMLs (--include_path)


@dataclass(frozen=True)
class Suite:
    name: str
    invocations: tuple[Invocation, ...]
    description: str = ""
    tasks: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(t for inv in self.invocations for t in inv.tasks))


SUITES = {
    "v1": Suite(
        "v1",
        (
            Invocation("v1_25shot", ("arc_challenge",), 25),
            Invocation("v1_10shot", ("hellaswag",), 10),
            Invocation("v1_5shot", ("mmlu", "winogrande", "gsm8k"), 5),
            Invocation("v1_0shot", ("truthfulqa_mc2",), 0),
        ),
        "Open LLM Leaderboard v1",
    ),
    "v2": Suite("v2", (Invocation("v2", ("leaderboard",), None, chat=True),), "Open LLM Leaderboard v2"),
    "local": Suite("local", (Invocation("local", ("expo_tiny_mc",), 0, local=True),), "packaged tiny task"),
}


def suite_tasks(suite: str) -> list[str]:
    """Benchmark tasks of a suite = the ``results_lmeval/<model>/<task>.json`` files it writes."""
    return list(get_suite(suite).tasks)


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise ExpoError(f"unknown lm-eval suite {name!r} (known: {', '.join(SUITES)})")
    return SUITES[name]


def plan(suite: str, only_tasks: list[str] | None = None) -> list[Invocation]:
    """The invocations of ``suite``, restricted to ``only_tasks`` (each must belong to the suite)."""
    s = get_suite(suite)
    if not only_tasks:
        return list(s.invocations)
    unknown = [t for t in only_tasks if t not in s.tasks]
    if unknown:
        raise ExpoError(
            f"task(s) {', '.join(unknown)} not in suite {suite!r} (its tasks: {', '.join(s.tasks)})"
        )
    out = []
    for inv in s.invocations:
        kept = tuple(t for t in inv.tasks if t in only_tasks)
        if kept:
            out.append(Invocation(inv.name, kept, inv.num_fewshot, inv.chat, inv.local))
    return out
