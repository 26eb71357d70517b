"""Shared fixtures. Tests are offline and CPU-only; real data comes from ../shared/data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ROOTS_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real test data in ../shared/data; tests that use it skip where it is absent."""
    if not (SHARED_DATA / "MANIFEST.md").exists():
        pytest.skip(f"real test data not found at {SHARED_DATA} (a CI checkout has ../shared/data)")
    return SHARED_DATA
