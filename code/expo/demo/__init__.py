"""The embedded CPU demo: a tokenizer and tiny SFT / aligned / reward models built offline in seconds.

``build_demo(out_dir, seed=0)`` writes ``sft/``, ``aligned/``, ``reward/`` (Hugging Face model dirs with
their tokenizer) and the two demo prompt files, deterministically, so every pipeline stage can run for real
on a CPU-only machine without the hub.
"""

from expo.demo.build import DEMO_OUTPUTS, build_demo

__all__ = ["DEMO_OUTPUTS", "build_demo"]
