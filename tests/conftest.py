"""Shared pytest fixtures: the shared/ fixture data (skip or fail when absent) and a built tiny demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EXPO_SHARED_DATA", ROOT.parent / "shared" / "data"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data; skipped with a reason when absent, a failure when EXPO_REQUIRE_SHARED=1."""
    if not SHARED_DATA.is_dir():
        msg = (
            f"shared fixture data not found at {SHARED_DATA} (set EXPO_SHARED_DATA or clone beside ../shared)"
        )
        if os.environ.get("EXPO_REQUIRE_SHARED") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A freshly built tiny demo (sft/aligned/reward models and prompt files), once per test session."""
    from expo.demo import build_demo

    out = tmp_path_factory.mktemp("demo") / "demo"
    build_demo(out)
    return out
