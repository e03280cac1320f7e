"""Build the whole demo (tokenizer, SFT, aligned and reward models, prompt files) into one directory.

The build is offline, seeded and deterministic (same seed, same bytes), and atomic: everything is written into a
temporary sibling directory that is renamed into place only when complete. Besides the outputs named in
``DEMO_OUTPUTS`` it writes ``demo_info.json`` (seed, vocab size, final training losses).

The models have 2 attention heads of 32 (head_dim 32: the smallest vLLM's CPU attention runs). Measured demo
behaviour (seed 0, the 24 demo prompts x 3 sampling seeds, 24 new tokens, transformers sampling): mean reward
SFT -0.59, aligned 0.12, ExPO alpha 0.25 / 0.5 / 1 / 2 -> 0.44 / 0.69 / 0.69 / 0.23 (rises, then falls).
"""

from __future__ import annotations

import copy
import json
import logging
import os
import random
from pathlib import Path

import torch

from expo.demo import corpus
from expo.demo.judge import alpaca_template, build_demo_judge
from expo.demo.models import new_causal_lm, new_reward_model
from expo.demo.tokenizer import train_tokenizer
from expo.demo.training import deterministic_torch, train_causal_lm, train_reward_model
from expo.errors import ExpoError
from expo.io.atomic import atomic_dir, write_json, write_text

log = logging.getLogger(__name__)

DEMO_OUTPUTS = {
    "sft": "sft",
    "aligned": "aligned",
    "reward": "reward",
    "prompts_ultrafeedback": "prompts_ultrafeedback.jsonl",
    "prompts_alpaca": "prompts_alpaca.json",
}
# Written with judge=True (expo.demo.judge): the demo judge and the data of the judged benchmarks.
JUDGE_OUTPUTS = {"judge": "judge", "mt_bench": "mt_bench", "alpaca_reference": "alpaca_reference.json"}

# Training schedule: SFT long enough to produce text-like answers; "alignment" a short nudge towards the
# preferred style (so extrapolating further along it still helps); the RM until it separates the styles.
SFT_STEPS, SFT_LR = 150, 5e-3
ALIGN_STEPS, ALIGN_LR = 6, 1e-3
REWARD_STEPS, REWARD_LR = 100, 3e-3


def assert_every_tensor_differs(sft: torch.nn.Module, aligned: torch.nn.Module) -> None:
    """ExPO needs a non-zero delta in every tensor; fail loudly if training left one unchanged."""
    sft_state = sft.state_dict()
    same = [name for name, t in aligned.state_dict().items() if torch.equal(t, sft_state[name])]
    if same:
        raise RuntimeError(f"demo aligned model equals the SFT model in tensor(s): {', '.join(same)}")


def _save_model(model: torch.nn.Module, tokenizer, directory: Path) -> None:
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def _write_prompt_files(root: Path) -> None:
    uf_text = corpus.read_data_text("prompts_ultrafeedback.jsonl")
    uf_rows = [json.loads(line) for line in uf_text.splitlines() if line.strip()]
    alpaca_rows = json.loads(corpus.read_data_text("prompts_alpaca.json"))
    write_text(root / DEMO_OUTPUTS["prompts_ultrafeedback"], "".join(json.dumps(r) + "\n" for r in uf_rows))
    write_json(root / DEMO_OUTPUTS["prompts_alpaca"], alpaca_rows)


def build_demo(
    out_dir: str | os.PathLike, seed: int = 0, force: bool = False, judge: bool = False
) -> dict[str, Path]:
    """Build the tiny demo into ``out_dir`` and return ``{name: path}`` for the keys of ``DEMO_OUTPUTS``
    (and ``JUDGE_OUTPUTS`` with ``judge``: the demo judge, see expo.demo.judge).

    ``out_dir`` must not exist unless ``force`` (it is then replaced once the new build is complete).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ExpoError(f"demo seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir)
    if judge:
        alpaca_template()  # the judge needs alpaca_eval: say so before any training
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with atomic_dir(out, force=force) as tmp:
        log.info("demo: training the tokenizer")
        tokenizer = train_tokenizer(corpus.tokenizer_training_text())
        rng = random.Random(seed)
        sft_data = corpus.sft_examples(rng)
        preferred_data = corpus.preferred_examples(rng)
        reward_data = corpus.reward_examples(rng)
        with deterministic_torch(seed):
            log.info("demo: training the SFT model (%d steps, %d examples)", SFT_STEPS, len(sft_data))
            sft = new_causal_lm(tokenizer, seed)
            sft_losses = train_causal_lm(
                sft, tokenizer, sft_data, steps=SFT_STEPS, lr=SFT_LR, seed=seed, desc="demo sft"
            )
            log.info("demo: aligning (%d steps on preferred responses)", ALIGN_STEPS)
            aligned = copy.deepcopy(sft)
            align_losses = train_causal_lm(
                aligned,
                tokenizer,
                preferred_data,
                steps=ALIGN_STEPS,
                lr=ALIGN_LR,
                seed=seed + 1,
                desc="demo aligned",
            )
            assert_every_tensor_differs(sft, aligned)
            log.info("demo: training the reward model (%d steps)", REWARD_STEPS)
            reward = new_reward_model(tokenizer, sft, seed + 2)
            reward_losses = train_reward_model(
                reward,
                tokenizer,
                reward_data,
                steps=REWARD_STEPS,
                lr=REWARD_LR,
                seed=seed + 2,
                desc="demo reward",
            )
            judge_info = build_demo_judge(tmp, seed) if judge else None
        _save_model(sft, tokenizer, tmp / DEMO_OUTPUTS["sft"])
        _save_model(aligned, tokenizer, tmp / DEMO_OUTPUTS["aligned"])
        _save_model(reward, tokenizer, tmp / DEMO_OUTPUTS["reward"])
        _write_prompt_files(tmp)
        write_json(
            tmp / "demo_info.json",
            {
                "seed": seed,
                "vocab_size": len(tokenizer),
                "final_loss": {
                    "sft": round(sft_losses[-1], 4),
                    "aligned": round(align_losses[-1], 4),
                    "reward": round(reward_losses[-1], 4),
                },
                "judge": judge_info,
            },
        )
    log.info("demo: built %s", out)
    outputs = {**DEMO_OUTPUTS, **(JUDGE_OUTPUTS if judge else {})}
    return {key: out / name for key, name in outputs.items()}
