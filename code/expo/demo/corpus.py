"""The demo's training text: chat (prompt, response) pairs in a plain and a "preferred" (polite) style.

Everything comes from the hand-written files in ``expo/demo/data`` and a seeded ``random.Random``, so the same
seed always yields the same examples. Preferred responses wrap the same facts in polite, helpful marker
phrases; the reward model learns to prefer them, and the aligned model is trained towards them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA_PACKAGE = "expo.demo.data"


@dataclass(frozen=True)
class Topic:
    name: str
    prompts: tuple[str, ...]
    facts: tuple[str, ...]


@dataclass(frozen=True)
class ChatExample:
    prompt: str
    response: str


@dataclass(frozen=True)
class ScoredExample:
    prompt: str
    response: str
    target: float


def read_data_text(name: str) -> str:
    """The text of one packaged data file (``expo/demo/data/<name>``)."""
    return resources.files(DATA_PACKAGE).joinpath(name).read_text(encoding="utf-8")


@cache
def topics() -> tuple[Topic, ...]:
    rows = [json.loads(line) for line in read_data_text("topics.jsonl").splitlines() if line.strip()]
    return tuple(Topic(r["topic"], tuple(r["prompts"]), tuple(r["facts"])) for r in rows)


@cache
def styles() -> dict[str, tuple[str, ...]]:
    return {key: tuple(values) for key, values in json.loads(read_data_text("styles.json")).items()}


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def some_facts(topic: Topic, rng: random.Random) -> list[str]:
    """One or two consecutive facts: answers stay short (~10-30 tokens) so the demo can generate them whole."""
    count = rng.choice((1, 2))
    start = rng.randrange(len(topic.facts) - count + 1)
    return list(topic.facts[start : start + count])


def plain_response(topic: Topic, rng: random.Random) -> str:
    s = styles()
    return _join(rng.choice(s["plain_openers"]), *some_facts(topic, rng), rng.choice(s["plain_closers"]))


def preferred_response(topic: Topic, rng: random.Random) -> str:
    s = styles()
    return _join(
        rng.choice(s["preferred_openers"]), *some_facts(topic, rng), rng.choice(s["preferred_closers"])
    )


def half_polite_response(topic: Topic, rng: random.Random) -> str:
    s = styles()
    if rng.random() < 0.5:
        return _join(rng.choice(s["preferred_openers"]), *some_facts(topic, rng))
    return _join(*some_facts(topic, rng), rng.choice(s["preferred_closers"]))


def degenerate_response(topic: Topic, rng: random.Random) -> str:
    """Broken text of the kinds an over-extrapolated model produces: loops, word salad, marker spam."""
    s = styles()
    words = _join(*topic.facts).split()
    kind = rng.randrange(5)
    if kind == 0:  # word salad
        rng.shuffle(words)
        return " ".join(words)
    if kind == 1:  # a phrase stuck in a loop
        phrase = rng.choice(topic.facts).split()[: rng.randint(2, 4)]
        return " ".join(phrase * rng.randint(4, 8))
    if kind == 2:  # polite marker spam without content
        markers = list(s["preferred_openers"] + s["preferred_closers"])
        return " ".join(rng.choice(markers) for _ in range(rng.randint(3, 6)))
    if kind == 3:  # repeated single word
        return " ".join([rng.choice(words)] * rng.randint(5, 15))
    return " ".join(words[: rng.randint(1, 3)])  # cut off


def sft_examples(rng: random.Random, polite_share: float = 0.15) -> list[ChatExample]:
    """Mostly plain answers, a few polite ones (so the polite style is reachable but not dominant)."""
    out = []
    for _ in range(3):
        for topic in topics():
            for prompt in topic.prompts:
                make = preferred_response if rng.random() < polite_share else plain_response
                out.append(ChatExample(prompt, make(topic, rng)))
    rng.shuffle(out)
    return out


def preferred_examples(rng: random.Random) -> list[ChatExample]:
    out = [ChatExample(p, preferred_response(t, rng)) for t in topics() for p in t.prompts]
    rng.shuffle(out)
    return out


def reward_examples(rng: random.Random) -> list[ScoredExample]:
    """Graded targets: preferred 2, half polite 1, plain 0, degenerate -2, and an off-topic answer -1."""
    out = []
    all_topics = topics()
    for topic in all_topics:
        for prompt in topic.prompts:
            other = rng.choice([t for t in all_topics if t.name != topic.name])
            out += [
                ScoredExample(prompt, preferred_response(topic, rng), 2.0),
                ScoredExample(prompt, half_polite_response(topic, rng), 1.0),
                ScoredExample(prompt, plain_response(topic, rng), 0.0),
                ScoredExample(prompt, plain_response(other, rng), -1.0),
                ScoredExample(prompt, degenerate_response(topic, rng), -2.0),
                ScoredExample(prompt, degenerate_response(topic, rng), -2.0),
            ]
    rng.shuffle(out)
    return out


def tokenizer_training_text() -> list[str]:
    """All the English text of the demo, one line each, to train the BPE tokenizer on."""
    s = styles()
    lines = [line for values in s.values() for line in values if line]
    for topic in topics():
        lines += [*topic.prompts, *topic.facts, _join(*topic.facts)]
    lines += [
        json.loads(line)["prompt"]
        for line in read_data_text("prompts_ultrafeedback.jsonl").splitlines()
        if line
    ]
    lines += [row["instruction"] for row in json.loads(read_data_text("prompts_alpaca.json"))]
    return lines
