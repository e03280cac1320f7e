"""Reference side of the sweep equality test: `expo generate --backend vllm` on each checkpoint, a fresh engine each.

    python tests/helpers/fresh_engines.py PROMPTS MAX_NEW_TOKENS OUT_DIR MODEL_DIR...

Runs in the vLLM environment. One process (vLLM is imported once) starts a new ``vllm.LLM`` per checkpoint
through the same code as ``expo generate`` (:func:`expo.generation.run.generate`) and shuts it down before the
next; writes OUT_DIR/<model dir name>.jsonl and prints one JSON line of timings.
"""

from __future__ import annotations

import gc
import json
import sys
import time
from pathlib import Path


def main() -> None:
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from expo.generation import run as generation_run
    from expo.generation.run import GenerateRequest, generate
    from expo.generation.sampling import SamplingSettings

    prompts, max_new_tokens, out_dir, *models = sys.argv[1:]
    engines = []
    live = []
    real_make_backend = generation_run.make_backend

    def tracked(req, tokenizer):
        start = time.perf_counter()
        backend = real_make_backend(req, tokenizer)
        engines.append({"model": req.model, "start_s": round(time.perf_counter() - start, 1)})
        live.append(backend)
        return backend

    generation_run.make_backend = tracked
    for model in models:
        backends_before = len(engines)
        generate(
            GenerateRequest(
                model=model,
                prompts=prompts,
                out=str(Path(out_dir) / f"{Path(model).name}.jsonl"),
                backend="vllm",
                generator=Path(model).name,
                sampling=SamplingSettings(max_new_tokens=int(max_new_tokens)),
            )
        )
        assert len(engines) == backends_before + 1, "each checkpoint must get its own engine"
        for backend in live:  # shut this engine down before the next one starts
            backend.llm.llm_engine.engine_core.shutdown()
        live.clear()
        gc.collect()
    print(json.dumps({"engines": engines}))


if __name__ == "__main__":
    main()
