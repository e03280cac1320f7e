"""What the MT-Bench stage is asked to do: the judge's defaults and the two requests (answers, judging).

Light on purpose (stdlib only): the CLI takes its flag defaults and the DAG its config defaults from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from expo.benchmarks.judge_client import JudgeSettings


@dataclass(frozen=True)
class MtBenchJudge(JudgeSettings):
    """FastChat's judge: ``gpt-4`` on OpenAI, 16 tries 10 s apart, 600 s per request; 8 in flight."""

    judge_model: str = "gpt-4"
    request_timeout_s: float = 600.0
    max_retries: int = 16
    retry_sleep_s: float = 10.0
    concurrency: int = 8


@dataclass
class AnswerRequest:
    """``expo mt-bench-answer``: answer ``questions`` with ``model`` into ``out`` (FastChat model_answer)."""

    model: str
    questions: str
    out: str
    model_id: str
    backend: str = "vllm"
    max_new_tokens: int = 1024
    seed: int = 42
    batch_size: int | None = None
    trust_remote_code: bool = False
    chat_template: str | None = None
    stop_token_ids: tuple[int, ...] = ()
    tensor_parallel_size: int | None = None


@dataclass
class JudgeRequest:
    """``expo mt-bench-judge``: grade ``answers`` into ``out`` (FastChat single-mode judgments)."""

    answers: list[str]
    questions: str
    judge_prompts: str
    out: str
    reference: str | None = None
    judge: MtBenchJudge = field(default_factory=MtBenchJudge)
    max_failed_fraction: float = 0.0
