"""Shared fixtures over the builders in tests/helpers: a film in the test's tmp_path, a tiny model file."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.films import Clip, make_clip
from helpers.models import write_tiny_model


@pytest.fixture
def clip(tmp_path: Path) -> Callable[..., Clip]:
    """Call as clip("name.mp4", **make_clip options) to get a film inside tmp_path."""
    def factory(name: str = "film.mp4", **options: Any) -> Clip:
        return make_clip(tmp_path / name, **options)
    return factory


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny untrained U-Net saved as a model file, for the command line's --model."""
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")
