"""vLLM backend (GPU): the authors' settings on the vLLM 0.33 API.

``LLM(model=dir, tokenizer=dir, dtype="bfloat16", seed=seed, tensor_parallel_size=tp,
generation_config="vllm")`` (so the model's generation_config.json cannot change the sampling), explicit
``SamplingParams(n=1, temperature, top_k, top_p, presence_penalty, frequency_penalty, seed, max_tokens,
stop_token_ids)``, and prompts as ``TokensPrompt(prompt_token_ids=ids)`` holding the chat-templated ids (the
legacy ``generate(prompt_token_ids=...)`` keyword was removed in vLLM 0.10.2; a plain string prompt would get a
second BOS).
"""

from __future__ import annotations

import importlib.util
import logging

from expo.errors import ExpoError
from expo.generation.completion import Completion
from expo.generation.sampling import SamplingSettings

log = logging.getLogger(__name__)


def check_vllm_installed() -> None:
    if importlib.util.find_spec("vllm") is None:
        raise ExpoError(
            "backend 'vllm' requested but vllm is not installed (pip install 'expo-pipeline[gpu]' on a GPU "
            "machine, or use --backend transformers)"
        )


def visible_gpu_count() -> int:
    try:
        import torch

        return max(torch.cuda.device_count(), 1)
    except Exception:  # noqa: BLE001 - no torch CUDA at all means one (CPU) worker
        return 1


class VllmGenerator:
    """Holds one ``vllm.LLM`` and generates a batch of token-id prompts per call."""

    name = "vllm"

    def __init__(
        self,
        model_dir: str,
        settings: SamplingSettings,
        tensor_parallel_size: int | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        check_vllm_installed()
        from vllm import LLM

        self.tensor_parallel_size = tensor_parallel_size or visible_gpu_count()
        log.info("vllm: loading %s (bf16, tensor_parallel_size=%d)", model_dir, self.tensor_parallel_size)
        self.llm = LLM(
            model=str(model_dir),
            tokenizer=str(model_dir),
            dtype="bfloat16",
            seed=settings.seed,
            tensor_parallel_size=self.tensor_parallel_size,
            trust_remote_code=trust_remote_code,
            generation_config="vllm",
        )
        self.set_sampling(settings)

    def set_sampling(self, settings: SamplingSettings) -> None:
        """Sample the next batches with ``settings`` (the loaded engine stays; its seed was set at load)."""
        from vllm import SamplingParams

        self.settings = settings
        self.sampling_params = SamplingParams(
            n=1,
            temperature=settings.temperature,
            top_k=settings.top_k,
            top_p=settings.top_p,
            presence_penalty=settings.presence_penalty,
            frequency_penalty=settings.frequency_penalty,
            seed=settings.seed,
            max_tokens=settings.max_new_tokens,
            stop_token_ids=list(settings.stop_token_ids) or None,
        )

    def generate(self, batch_ids: list[list[int]], batch_index: int) -> list[Completion]:
        """vLLM seeds each request from ``SamplingParams.seed``, so results do not depend on the batching."""
        from vllm import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in batch_ids]
        outputs = self.llm.generate(prompts, self.sampling_params, use_tqdm=False)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vllm returned {len(outputs)} results for {len(prompts)} prompts")
        completions = []
        for out in outputs:
            best = out.outputs[0]
            completions.append(Completion(best.text, len(best.token_ids), str(best.finish_reason)))
        return completions
