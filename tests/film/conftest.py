"""The films' fixtures: a tiny model, and the Python API called with it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from vidcolor import colorize_video
from vidcolor.runtime.archs import build_model
from vidcolor.runtime.inference import Colorizer


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(build_model("unet", width=8), {"working_size": 64})


@pytest.fixture
def color(colorizer: Colorizer) -> Any:
    """colour(src, dst, **options) -> (result, warnings): the Python API with the tiny model."""
    def run(src: Path, dst: Path, **options: Any) -> tuple[Any, list[str]]:
        warnings: list[str] = []
        result = colorize_video(src, dst, model=options.pop("model", colorizer), quiet=True, warn=warnings.append,
                                **options)
        return result, warnings
    return run
