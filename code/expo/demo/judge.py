"""The demo judge: a tiny Llama trained in seconds to grade demo answers the way the benchmark judges do.

It answers AlpacaEval 2.0's ``weighted_alpaca_eval_gpt4_turbo`` prompt (alpaca_eval's own template, filled and
split into chat messages by alpaca_eval's own functions) with ``m`` or ``M`` as its first token — alpaca_eval
reads that token's logprobs — and MT-Bench single-grade prompts with ``[[N]]``. What is "better" is the demo
corpus' style grade (``expo.demo.corpus``; the same grades the demo reward model is trained on): polite
answers with the facts > half-polite > plain > degenerate (loops, word salad, marker spam). Its verdicts are a
demo's: a 1-million-parameter model that knows only the demo's style; its numbers say nothing about real
models and are not comparable with GPT-4-judged leaderboards. Tables name it (``DEMO_JUDGE_NAME``).

Besides the model (``judge/``, served under ``DEMO_JUDGE_NAME``) the build writes the demo's judged-benchmark
data: ``mt_bench/`` (questions from the demo topics, single-grade judge prompts in FastChat's format but our
own wording, reference answers) and ``alpaca_reference.json`` (the AlpacaEval reference outputs: plain
answers). Architecture: hidden 64, 2 heads x 32 (vLLM's CPU attention needs head_dim >= 32), 2 layers,
4096 positions (an MT-Bench request asks for up to 2048 new tokens on top of its prompt).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import AddedToken
from tqdm import tqdm
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from expo.demo import corpus
from expo.demo.models import TINY_LLAMA
from expo.demo.tokenizer import train_tokenizer
from expo.demo.training import optimizer_step, response_lm_loss, right_pad
from expo.errors import ExpoError
from expo.io.atomic import write_json, write_text

DEMO_JUDGE_NAME = "expo-demo-judge"
JUDGE_VOCAB_SIZE = 1200
JUDGE_STEPS, JUDGE_LR, JUDGE_BATCH = 600, 5e-3, 16
N_ALPACA_EXAMPLES, N_MT_BENCH_EXAMPLES = 3000, 1500
# style grade (corpus) -> MT-Bench rating the judge gives
RATINGS = {2: 9, 1: 7, 0: 4, -2: 1}
MT_BENCH_CATEGORIES = ("writing", "roleplay", "stem", "humanities")

# the demo models' tiny Llama (``expo.demo.models.TINY_LLAMA``) with the context judge prompts need
JUDGE_LLAMA = {**TINY_LLAMA, "head_dim": 32, "max_position_embeddings": 4096}

# MT-Bench single-grade prompts in FastChat's judge_prompts.jsonl format (names, fields, placeholders and the
# "[[rating]]" output format), worded for the demo.
_SYSTEM = "You are a judge. Rate the answer of an AI assistant from 1 to 10."
_RULE = "Rate the answer from 1 to 10, strictly in this format: [[rating]], for example: Rating: [[5]]."
JUDGE_PROMPTS = [
    {
        "name": "single-v1",
        "type": "single",
        "system_prompt": _SYSTEM,
        "prompt_template": "[Instruction]\n"
        + _RULE
        + "\n\n[Question]\n{question}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
        "description": "Demo single-answer grading (expo demo judge)",
        "category": "general",
        "output_format": "[[rating]]",
    },
    {
        "name": "single-math-v1",
        "type": "single",
        "system_prompt": _SYSTEM,
        "prompt_template": "[Instruction]\n"
        + _RULE
        + "\n\n[Question]\n{question}\n\n[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]"
        "\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
        "description": "Demo single-answer grading with a reference (expo demo judge)",
        "category": "math",
        "output_format": "[[rating]]",
    },
    {
        "name": "single-v1-multi-turn",
        "type": "single",
        "system_prompt": _SYSTEM + " Rate its second answer.",
        "prompt_template": "<|The Start of Assistant A's Conversation with User|>\n\n### User:\n{question_1}\n\n"
        "### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n### Assistant A:\n{answer_2}\n\n"
        "<|The End of Assistant A's Conversation with User|>",
        "description": "Demo second-turn grading (expo demo judge)",
        "category": "general",
        "output_format": "[[rating]]",
    },
    {
        "name": "single-math-v1-multi-turn",
        "type": "single",
        "system_prompt": _SYSTEM + " Rate its second answer.",
        "prompt_template": "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n"
        "{ref_answer_1}\n\n### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n"
        "<|The End of Reference Answer|>\n\n\n<|The Start of Assistant A's Conversation with User|>\n\n"
        "### User:\n{question_1}\n\n### Assistant A:\n{answer_1}\n\n### User:\n{question_2}\n\n"
        "### Assistant A:\n{answer_2}\n\n<|The End of Assistant A's Conversation with User|>",
        "description": "Demo second-turn grading with a reference (expo demo judge)",
        "category": "math",
        "output_format": "[[rating]]",
    },
]


@dataclass(frozen=True)
class JudgeExample:
    """One judge prompt (chat messages) and the reply the judge should give."""

    messages: tuple[dict, ...]
    reply: str


def _markers() -> list[str]:
    return [m for values in corpus.styles().values() for m in values if m]


def _degenerate_response(topic: corpus.Topic, rng: random.Random) -> str:
    """A degenerate answer without polite markers (marker spam is left out: it reads as polite to this judge)."""
    while True:
        text = corpus.degenerate_response(topic, rng)
        if not any(m in text for m in _markers()):
            return text


def _graded_answer(topic: corpus.Topic, grade: int, rng: random.Random) -> str:
    makers = {
        2: corpus.preferred_response,
        1: corpus.half_polite_response,
        0: corpus.plain_response,
        -2: _degenerate_response,
    }
    return makers[grade](topic, rng)


def alpaca_template() -> str:
    """alpaca_eval's weighted GPT-4-Turbo classification prompt (the file its annotator config names)."""
    from expo.benchmarks.alpaca_eval.judge import packaged_prompt_template, require_alpaca_eval

    try:
        require_alpaca_eval()
    except ExpoError as exc:
        raise ExpoError(f"the demo judge is trained on AlpacaEval's own prompt: {exc}") from None
    return packaged_prompt_template().read_text(encoding="utf-8")


def alpaca_messages(rows: Sequence[dict], template: str) -> list[list[dict]]:
    """The chat messages alpaca_eval sends for each ``{instruction, output_1, output_2}`` row (its own code)."""
    import pandas as pd
    from alpaca_eval.utils import make_prompts, prompt_to_chatml

    prompts, _ = make_prompts(pd.DataFrame(list(rows)), template)
    return [prompt_to_chatml(p) for p in prompts]


def mt_bench_messages(prompt: dict, question: dict, answers: Sequence[str], turn: int) -> list[dict]:
    """The chat messages our MT-Bench judge (FastChat's logic) sends for one answer."""
    from expo.benchmarks.mt_bench.judging import build_user_prompt, judge_messages

    reference = (
        {"choices": [{"turns": question["reference"]}]}
        if "{ref_answer_1}" in prompt["prompt_template"]
        else None
    )
    answer = {"choices": [{"turns": list(answers)}]}
    user = build_user_prompt(question, answer, prompt, reference, multi_turn=turn == 2)
    return judge_messages(prompt, user)


def mt_bench_questions() -> list[dict]:
    """Demo MT-Bench questions: two turns from one demo topic each, categories without reference answers."""
    rows = []
    for i, topic in enumerate(corpus.topics()):
        rows.append(
            {
                "question_id": i + 1,
                "category": MT_BENCH_CATEGORIES[i % len(MT_BENCH_CATEGORIES)],
                "turns": [topic.prompts[0], topic.prompts[-1]],
            }
        )
    return rows


def _topic_of(question_id: int) -> corpus.Topic:
    return corpus.topics()[question_id - 1]


def alpaca_reference(rng: random.Random) -> list[dict]:
    """AlpacaEval reference outputs for the demo instructions: plain answers (what a plain SFT model says)."""
    rows = json.loads(corpus.read_data_text("prompts_alpaca.json"))
    topics = corpus.topics()
    return [
        {
            "dataset": row.get("dataset", "expo_demo"),
            "instruction": row["instruction"],
            "output": corpus.plain_response(rng.choice(topics), rng),
            "generator": "expo_demo_reference",
        }
        for row in rows
    ]


def judge_examples(rng: random.Random, template: str) -> list[JudgeExample]:
    """Training examples: AlpacaEval pairs of different grades in both orders, MT-Bench ratings of both turns."""
    topics = corpus.topics()
    instructions = [p for t in topics for p in t.prompts]
    instructions += [r["instruction"] for r in json.loads(corpus.read_data_text("prompts_alpaca.json"))]
    grades = sorted(RATINGS)
    rows, replies = [], []
    for _ in range(N_ALPACA_EXAMPLES):
        topic = rng.choice(topics)
        g1, g2 = rng.sample(grades, 2)
        rows.append(
            {
                "instruction": rng.choice(instructions),
                "output_1": _graded_answer(topic, g1, rng),
                "output_2": _graded_answer(topic, g2, rng),
            }
        )
        replies.append("m" if g1 > g2 else "M")
    examples = [
        JudgeExample(tuple(m), r) for m, r in zip(alpaca_messages(rows, template), replies, strict=True)
    ]
    prompts = {p["name"]: p for p in JUDGE_PROMPTS}
    questions = mt_bench_questions()
    for _ in range(N_MT_BENCH_EXAMPLES):
        q = dict(rng.choice(questions))
        topic = _topic_of(q["question_id"])
        q["reference"] = [corpus.preferred_response(topic, rng), corpus.preferred_response(topic, rng)]
        turn = rng.choice((1, 2))
        kind = rng.choice(("single-v1", "single-math-v1")) + ("-multi-turn" if turn == 2 else "")
        grade = rng.choice(grades)
        answers = [_graded_answer(topic, rng.choice(grades), rng), _graded_answer(topic, grade, rng)]
        if turn == 1:
            answers = [answers[1]]
        messages = mt_bench_messages(prompts[kind], q, answers, turn)
        examples.append(JudgeExample(tuple(messages), f"[[{RATINGS[grade]}]]"))
    rng.shuffle(examples)
    return examples


ANSWER_SLOTS = ("output_1", "output_2", "answer", "answer_1", "answer_2")


def prompt_chunks(template: str) -> tuple[list[str], list[str], list[str]]:
    """The fixed text between the slots of every judge prompt (AlpacaEval's and the MT-Bench ones): all chunks,
    the chunks right before an answer, and the chunks right after one."""
    slots = ("instruction", "output_1", "output_2")
    filled = alpaca_messages([{k: f"{{{k}}}" for k in slots}], template)[0]
    texts = [m["content"] for m in filled]
    for prompt in JUDGE_PROMPTS:
        texts += [prompt["system_prompt"], prompt["prompt_template"]]
    chunks: list[str] = []
    before: list[str] = []
    after: list[str] = []
    for text in texts:
        parts = re.split(r"(\{\w+\})", text)  # chunk, slot, chunk, slot, ..., chunk
        for i in range(0, len(parts), 2):
            piece = parts[i]
            if not piece.strip():
                continue
            if piece not in chunks:
                chunks.append(piece)
            if i + 1 < len(parts) and parts[i + 1][1:-1] in ANSWER_SLOTS and piece not in before:
                before.append(piece)
            if i > 0 and parts[i - 1][1:-1] in ANSWER_SLOTS and piece not in after:
                after.append(piece)
    return chunks, before, after


def judge_tokenizer(template: str) -> PreTrainedTokenizerFast:
    """The demo's BPE tokenizer recipe on the demo text, plus added tokens: one per fixed prompt chunk (a judge
    prompt is ~10 tokens of scaffold around the answers) and one per junction of a chunk with the style phrase
    that opens or closes an answer next to it. A tiny model then reads each answer's style, and which answer it
    is, from single tokens, which it learns in seconds."""
    tokenizer = train_tokenizer(corpus.tokenizer_training_text(), vocab_size=JUDGE_VOCAB_SIZE)
    chunks, before, after = prompt_chunks(template)
    s = corpus.styles()
    openers = [m for m in s["preferred_openers"] + s["plain_openers"] if m]
    closers = [m for m in s["preferred_closers"] + s["plain_closers"] if m]
    added = chunks + [c + o for c in before for o in openers]
    added += [k + c for c in after for k in closers]
    tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in added])
    return tokenizer


def new_judge_model(tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
        **JUDGE_LLAMA,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def encode_prompt(tokenizer: PreTrainedTokenizerFast, messages: Sequence[dict], with_bos: bool) -> list[int]:
    text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=with_bos)["input_ids"]


def train_judge(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    examples: Sequence[JudgeExample],
    *,
    seed: int,
    steps: int = JUDGE_STEPS,
    lr: float = JUDGE_LR,
    batch_size: int = JUDGE_BATCH,
) -> list[float]:
    """Next-token loss on the reply and its ``</s>`` only; prompts with and without ``<s>`` (vLLM's chat adds
    none, transformers' tokenizer call does)."""
    rng = random.Random(seed)
    encoded = []
    for ex in examples:
        prompt = encode_prompt(tokenizer, ex.messages, with_bos=rng.random() < 0.5)
        reply = tokenizer(ex.reply, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        encoded.append((prompt + reply, len(prompt)))
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    model.train()
    losses = []
    pending: list[list[int]] = []
    for _ in tqdm(range(steps), desc="demo judge", unit="step", mininterval=1.0):
        if not pending:
            pending = list(batches)
            rng.shuffle(pending)
        batch = pending.pop()
        ids, mask = right_pad([encoded[i][0] for i in batch], tokenizer.pad_token_id)
        labels, _ = right_pad([[-100] * n + seq[n:] for seq, n in (encoded[i] for i in batch)], -100)
        losses.append(optimizer_step(model, optimizer, response_lm_loss(model, ids, mask, labels), schedule))
    model.eval()
    return losses


def write_mt_bench_data(folder: Path, rng: random.Random) -> None:
    """question.jsonl, judge_prompts.jsonl, reference_answer/gpt-4.jsonl in FastChat's layout."""
    questions = mt_bench_questions()
    write_text(folder / "question.jsonl", "".join(json.dumps(q) + "\n" for q in questions))
    write_text(folder / "judge_prompts.jsonl", "".join(json.dumps(p) + "\n" for p in JUDGE_PROMPTS))
    refs = [
        {
            "question_id": q["question_id"],
            "answer_id": f"demo-ref-{q['question_id']}",
            "model_id": "gpt-4",
            "choices": [
                {
                    "index": 0,
                    "turns": [
                        corpus.preferred_response(_topic_of(q["question_id"]), rng) for _ in q["turns"]
                    ],
                }
            ],
            "tstamp": 0.0,
        }
        for q in questions
    ]
    (folder / "reference_answer").mkdir(parents=True, exist_ok=True)
    write_text(folder / "reference_answer" / "gpt-4.jsonl", "".join(json.dumps(r) + "\n" for r in refs))


def build_demo_judge(root: Path, seed: int) -> dict:
    """Train the judge into ``root/judge`` and write ``root/mt_bench`` and ``root/alpaca_reference.json``.

    Call inside ``deterministic_torch``; returns the figures for demo_info.json.
    """
    template = alpaca_template()
    rng = random.Random(seed + 10)
    tokenizer = judge_tokenizer(template)
    examples = judge_examples(rng, template)
    model = new_judge_model(tokenizer, seed + 10)
    losses = train_judge(model, tokenizer, examples, seed=seed + 10)
    model.save_pretrained(root / "judge", safe_serialization=True)
    tokenizer.save_pretrained(root / "judge")
    write_mt_bench_data(root / "mt_bench", rng)
    write_json(root / "alpaca_reference.json", alpaca_reference(rng))
    return {"name": DEMO_JUDGE_NAME, "examples": len(examples), "final_loss": round(losses[-1], 4)}
