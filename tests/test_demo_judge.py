"""The demo judge (expo.demo.judge), run with transformers: on held-out demo pairs it prefers the better answer
on AlpacaEval's own prompt (first-token probabilities of ``m``/``M``, what alpaca_eval reads), and on MT-Bench
single-grade prompts it answers a parseable ``[[N]]`` that is higher for better answers. Its data files load
with the stages' own readers."""

from __future__ import annotations

import json
import random
import statistics
import time

import pytest
import torch

from expo.demo import judge as J
from expo.demo.training import deterministic_torch

GRADE_NAMES = {2: "polite", 1: "half polite", 0: "plain", -2: "degenerate"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("alpaca_eval")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("demo_judge")
    start = time.monotonic()
    with deterministic_torch(0):
        info = J.build_demo_judge(root, seed=0)
    print(f"demo judge built in {time.monotonic() - start:.1f} s: {info}")
    tokenizer = AutoTokenizer.from_pretrained(root / "judge")
    model = AutoModelForCausalLM.from_pretrained(root / "judge").eval()
    return root, tokenizer, model


def _first_token_logprobs(tokenizer, model, messages) -> torch.Tensor:
    ids = J.encode_prompt(tokenizer, messages, with_bos=False)  # as vLLM's chat endpoint tokenizes
    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].log_softmax(-1)


def test_architecture_fits_vllm_cpu(built):
    root, tokenizer, model = built
    config = json.loads((root / "judge" / "config.json").read_text())
    assert (config["hidden_size"], config["num_attention_heads"], config["head_dim"]) == (64, 2, 32)
    assert config["max_position_embeddings"] >= 4096
    assert tokenizer.chat_template and tokenizer.convert_tokens_to_ids(
        "m"
    ) != tokenizer.convert_tokens_to_ids("M")


def test_alpaca_eval_prompt_prefers_the_better_answer(built):
    _, tokenizer, model = built
    template = J.alpaca_template()
    m_id, big_m_id = tokenizer.convert_tokens_to_ids("m"), tokenizer.convert_tokens_to_ids("M")
    rng = random.Random(12345)  # not the training seed
    topics = J.corpus.topics()
    rows, better_first = [], []
    for _ in range(120):
        topic = rng.choice(topics)
        g1, g2 = rng.sample(sorted(J.RATINGS), 2)
        rows.append(
            {
                "instruction": rng.choice(topic.prompts),
                "output_1": J._graded_answer(topic, g1, rng),
                "output_2": J._graded_answer(topic, g2, rng),
            }
        )
        better_first.append(g1 > g2)
    right, top5, top1 = 0, 0, 0
    for messages, first in zip(J.alpaca_messages(rows, template), better_first, strict=True):
        logprobs = _first_token_logprobs(tokenizer, model, messages)
        right += bool(logprobs[m_id] > logprobs[big_m_id]) == first
        top5 += {m_id, big_m_id} <= set(logprobs.topk(5).indices.tolist())  # alpaca_eval asks for 5
        top1 += logprobs.argmax().item() in (m_id, big_m_id)
    print(
        f"AlpacaEval prompt: better answer preferred in {right}/120, m and M both in the top-5 first tokens "
        f"in {top5}/120, m or M the top first token in {top1}/120"
    )
    assert right >= 0.85 * 120
    assert top5 >= 0.9 * 120 and top1 >= 0.95 * 120


def test_mt_bench_prompt_gives_parseable_ratings_ordered_by_quality(built):
    from expo.benchmarks.mt_bench.judging import parse_score

    _, tokenizer, model = built
    prompts = {p["name"]: p for p in J.JUDGE_PROMPTS}
    rng = random.Random(54321)
    scores = {g: [] for g in J.RATINGS}
    for i, q in enumerate(J.mt_bench_questions() * 3):
        topic = J._topic_of(q["question_id"])
        grade = sorted(J.RATINGS)[i % 4]
        turn = 1 + (i // 4) % 2
        answer = J._graded_answer(topic, grade, rng)
        answers = [answer] if turn == 1 else [J.corpus.plain_response(topic, rng), answer]
        name = "single-v1" + ("-multi-turn" if turn == 2 else "")
        ids = J.encode_prompt(tokenizer, J.mt_bench_messages(prompts[name], q, answers, turn), with_bos=False)
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=12, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
        text = tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
        score = parse_score(text)
        assert score != -1, f"unparseable judgment {text!r}"
        scores[grade].append(score)
    means = {GRADE_NAMES[g]: round(statistics.mean(v), 2) for g, v in sorted(scores.items())}
    print(f"MT-Bench mean rating by answer style: {means}")
    assert means["polite"] > means["half polite"] > means["plain"] > means["degenerate"]


def test_benchmark_data_loads_with_the_stages_readers(built):
    from expo.benchmarks.alpaca_eval.inputs import check_reference, load_outputs
    from expo.benchmarks.mt_bench.data import load_judge_prompts, load_questions, load_reference

    root, _, _ = built
    questions = load_questions(root / "mt_bench" / "question.jsonl")
    assert len(questions) == len(J.corpus.topics()) and all(len(q["turns"]) == 2 for q in questions)
    assert set(load_judge_prompts(root / "mt_bench" / "judge_prompts.jsonl")) >= {
        "single-v1",
        "single-v1-multi-turn",
    }
    load_reference(root / "mt_bench" / "reference_answer" / "gpt-4.jsonl", questions)
    reference = load_outputs(root / "alpaca_reference.json", "reference")
    check_reference(reference)
    demo_instructions = [r["instruction"] for r in json.loads(J.corpus.read_data_text("prompts_alpaca.json"))]
    assert [r["instruction"] for r in reference.records] == demo_instructions
