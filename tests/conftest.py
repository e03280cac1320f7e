"""Shared pytest fixtures: the shared/ fixture data (skip or fail when absent) and a built tiny demo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from expo.fixtures import DEFAULT_DIR, default_out, fetch_command
from expo.fixtures.manifest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]


SHARED_DATA = default_out(ROOT)  # the same lookup as `expo fetch-fixtures`

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The published fixture files; skipped (naming the command that fetches them) when any is absent, a
    failure when EXPO_REQUIRE_SHARED=1."""
    missing = [f.path for f in FIXTURES if not (SHARED_DATA / f.path).is_file()]
    if missing:
        out = None if SHARED_DATA == ROOT / DEFAULT_DIR else SHARED_DATA  # None: the command's default
        msg = (
            f"fixture data not found ({len(missing)} of {len(FIXTURES)} files missing in {SHARED_DATA}, "
            f"e.g. {missing[0]}): run `{fetch_command(out)}` from the repository root"
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
