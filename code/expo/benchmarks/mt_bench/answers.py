"""Generate MT-Bench answers (FastChat's model_answer format) with the model's own chat template.

As FastChat 0.2.36's gen_model_answer: 80 questions x 2 turns, turn 2 conditioned on the question's first turn
and the model's own turn-1 answer; temperature per category (``TEMPERATURE_CONFIG``: writing/roleplay 0.7,
stem/humanities 0.1, extraction/math/coding/reasoning 0.0, others 0.7), greedy below 1e-4; one choice;
``--max-new-tokens`` 1024; the answer text stripped. Records: ``{"question_id","answer_id","model_id",
"choices":[{"index":0,"turns":[t1,t2]}],"tstamp"}`` sorted by question id.

One deliberate difference: FastChat picks the conversation template from ``--model-id`` (and has no Llama-3
template; unknown ids fall back to ``one_shot``); here the prompt is the **tokenizer's chat template** of the
model directory (the template the models were aligned with, the one vLLM and the paper's generation use).
Each record says so in ``expo.chat_template`` ("tokenizer chat_template of <dir>", with its SHA-256), and
gives the sampling settings used for it in ``expo.sampling``.

Backends are expo.generation's (vLLM on GPU, transformers on CPU), loaded once; each temperature group sets
its sampling through the generator's ``set_sampling`` (top_p 1, no top_k, no penalties: FastChat passes only
temperature). Finished turns go to a journal (``expo.io.journal``) ``<out>.partial.jsonl`` so a killed run
resumes; the answer file is written atomically at the end and the journal removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from tqdm import tqdm

from expo.benchmarks.mt_bench.data import category_temperature, load_questions
from expo.benchmarks.mt_bench.requests import AnswerRequest
from expo.errors import ExpoError
from expo.generation.run import load_generator
from expo.generation.sampling import SamplingSettings
from expo.generation.templating import check_model_dir, conversation_ids, load_chat_tokenizer
from expo.io.atomic import write_jsonl
from expo.io.journal import Journal

log = logging.getLogger(__name__)

GREEDY_BELOW = 1e-4
BACKENDS = ("vllm", "transformers")


def sampling_for(temperature: float, req: AnswerRequest) -> SamplingSettings:
    """FastChat's sampling for a category temperature: greedy below 1e-4, top_p 1, no top_k, no penalties."""
    return SamplingSettings(
        temperature=temperature if temperature >= GREEDY_BELOW else 0.0,
        top_k=-1,
        top_p=1.0,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        seed=req.seed,
        max_new_tokens=req.max_new_tokens,
        stop_token_ids=tuple(req.stop_token_ids),
    )


def _template_note(model_dir: str, tokenizer, override: str | None) -> dict:
    template = (
        tokenizer.chat_template
        if isinstance(tokenizer.chat_template, str)
        else json.dumps(tokenizer.chat_template, sort_keys=True)
    )
    source = f"chat template file {override}" if override else f"tokenizer chat_template of {model_dir}"
    return {"chat_template": source, "chat_template_sha256": hashlib.sha256(template.encode()).hexdigest()}


def _answer_id(model_id: str, qid, turns: list[str]) -> str:
    return hashlib.sha256(json.dumps([model_id, qid, turns]).encode()).hexdigest()[:22]


def journal_path(out: Path) -> Path:
    return Path(f"{out}.partial.jsonl")


def run(req: AnswerRequest) -> Path:
    """Answer every question's turns; write the FastChat answer file atomically; return its path."""
    if req.backend not in BACKENDS:
        raise ExpoError(f"unknown backend {req.backend!r} (choose from {', '.join(BACKENDS)})")
    if req.max_new_tokens <= 0:
        raise ExpoError(f"--max-new-tokens must be positive, got {req.max_new_tokens}")
    if not req.model_id.strip():
        raise ExpoError("--model-id is empty")
    out = Path(req.out)
    if out.name != f"{req.model_id}.jsonl":
        log.warning(
            "answer file %s is not named <model-id>.jsonl; FastChat's judge names models by file", out
        )
    questions = load_questions(req.questions)
    check_model_dir(req.model)
    if req.backend == "vllm":
        from expo.generation.vllm_backend import check_vllm_installed

        check_vllm_installed()
    tokenizer = load_chat_tokenizer(req.model, req.trust_remote_code, req.chat_template)
    note = _template_note(req.model, tokenizer, req.chat_template)
    header = {
        "model": os.path.normpath(req.model),
        "backend": req.backend,
        "max_new_tokens": req.max_new_tokens,
        "seed": req.seed,
        **note,
    }
    journal = Journal(
        journal_path(out),
        key=lambda r: (r["question_id"], r["turn"]),
        header=header,
        parse=lambda r: str(r["text"]),
        what="answer journal",
    )
    done = journal.records

    n_turns = max(len(q["turns"]) for q in questions)
    batch_size = req.batch_size or (len(questions) if req.backend == "vllm" else 8)
    total = sum(len(q["turns"]) for q in questions)
    generator = None
    batch_index = 0
    with journal, tqdm(total=total, initial=len(done), desc="mt-bench answers", unit="turn") as bar:
        for turn in range(1, n_turns + 1):
            by_temp: dict[float, list[dict]] = {}
            for q in questions:
                if len(q["turns"]) >= turn and (q["question_id"], turn) not in done:
                    by_temp.setdefault(category_temperature(q["category"]), []).append(q)
            for temperature, group in sorted(by_temp.items()):
                settings = sampling_for(temperature, req)
                if generator is None:
                    generator = load_generator(
                        req.backend,
                        req.model,
                        tokenizer,
                        settings,
                        req.tensor_parallel_size,
                        req.trust_remote_code,
                    )
                generator.set_sampling(settings)
                for start in range(0, len(group), batch_size):
                    batch = group[start : start + batch_size]
                    ids = []
                    for q in batch:
                        messages = []
                        for t in range(1, turn):
                            messages += [
                                {"role": "user", "content": q["turns"][t - 1]},
                                {"role": "assistant", "content": done[(q["question_id"], t)]},
                            ]
                        messages.append({"role": "user", "content": q["turns"][turn - 1]})
                        ids.append(conversation_ids(tokenizer, messages))
                    completions = generator.generate(ids, batch_index)
                    batch_index += 1
                    journal.append(
                        [
                            {"question_id": q["question_id"], "turn": turn, "text": c.text.strip()}
                            for q, c in zip(batch, completions, strict=True)
                        ]
                    )
                    bar.update(len(batch))

    now = time.time()
    records = []
    for q in sorted(questions, key=lambda q: q["question_id"]):
        turns = [done[(q["question_id"], t)] for t in range(1, len(q["turns"]) + 1)]
        records.append(
            {
                "question_id": q["question_id"],
                "answer_id": _answer_id(req.model_id, q["question_id"], turns),
                "model_id": req.model_id,
                "choices": [{"index": 0, "turns": turns}],
                "tstamp": now,
                "expo": {
                    **note,
                    "backend": req.backend,
                    "temperature": category_temperature(q["category"]),
                    "max_new_tokens": req.max_new_tokens,
                    "sampling": sampling_for(category_temperature(q["category"]), req).as_dict(),
                },
            }
        )
    write_jsonl(out, records)
    journal.remove()
    log.info("mt-bench answers: wrote %s (%d questions, %s)", out, len(records), note["chat_template"])
    return out
