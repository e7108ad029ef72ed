"""Model files: safetensors weights plus JSON metadata. Never unpickles anything a user hands us.

Frozen pretrained backbone tensors are not stored: they come from their own registry package,
which keeps our files small (and keeps their licence where it belongs). Backbone stages we
fine-tuned are stored and override the package's.
"""
from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn

from ..utils.atomic import written_atomically
from ..utils.choices import MAX_SATURATION
from ..utils.errors import UserError
from .archs import FAMILIES, build_model
from .archs.fusion import Backbone
from .catalog import shipped_models

BACKBONE_PREFIX = "backbones."


def _package_keys(model: nn.Module) -> set[str]:
    """State keys the backbone's package provides: everything of the backbone we did not tune."""
    tuned = {f"{name}.{k}" for name, m in model.named_modules() if isinstance(m, Backbone) for k in m.tuned}
    return {k for k in model.state_dict() if k.startswith(BACKBONE_PREFIX) and k not in tuned}


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state dict without what the backbone's package provides."""
    skip = _package_keys(model)
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k not in skip}


def load_trainable_state(model: nn.Module, state: dict[str, torch.Tensor], *, untuned: bool = False,
                         fresh: str | None = None, optional: tuple[str, ...] = ()) -> bool:
    """Load our tensors over the package's; False when they do not fit the architecture.

    `untuned` accepts a file without the backbone stages this model tunes (a frozen-backbone
    model to train on from): those start from the package's weights. Tensors under the prefix
    `fresh` are neither loaded nor required: a new head trained on top of the file's features.
    Those under the prefixes `optional` are loaded where the file has them, else keep their own start (a hint
    model's hint branch, trained on top of an automatic model).
    """
    if fresh:
        state = {k: v for k, v in state.items() if not k.startswith(fresh)}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError:  # a tensor of the wrong shape: another width or family
        return False
    provided = {k for k in missing if k.startswith(BACKBONE_PREFIX)} if untuned else _package_keys(model)
    provided |= {k for k in missing if any(p and k.startswith(p) for p in (fresh, *optional))}
    return not (set(missing) - provided or unexpected)


def save_weights(path: Path, model: nn.Module, meta: dict[str, Any]) -> None:
    """Write weights and metadata (family, arch options, training facts) atomically."""
    write_weights_file(path, trainable_state(model), meta)


def write_weights_file(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any],
                       replace: bool = True) -> None:
    """Tensors and vidcolor's metadata as a .safetensors file, written atomically with the usual file permissions
    (safetensors' own file writer makes files only their owner may read: no use in a shared model folder)."""
    with written_atomically(path, replace=replace) as tmp:
        tmp.write_bytes(save(tensors, metadata={"vidcolor": json.dumps(meta)}))


def resolve_model_path(name_or_path: str | Path) -> Path:
    """A shipped model name, or a path to an exported .safetensors file; a Path is always a file (`./fusion` too,
    which a Path spells `fusion`)."""
    path = Path(name_or_path)
    if isinstance(name_or_path, Path):
        return _model_file(path)
    if not name_or_path.strip():  # pathlib reads '' as '.', the folder the command runs in
        raise UserError("an empty model name (a shipped model's name, or a .safetensors file)")
    shipped = shipped_models()
    if name_or_path in shipped:
        return shipped[name_or_path]
    if path.suffix == ".safetensors" or path.exists():
        return _model_file(path)
    names = ", ".join(shipped) or "none installed"
    raise UserError(f"unknown model {name_or_path!r} (shipped models: {names}, see `vidcolor models`; "
                    "or give a .safetensors file)")


def _model_file(path: Path) -> Path:
    """A model file as given, or one clear line on why it is none."""
    if path.is_dir():
        raise UserError(f"{path}: a folder, not a model file (a training run's is its last.safetensors)")
    if not path.is_file():
        raise UserError(f"{path}: " + ("not a model file" if path.exists() else "no such model file"))
    return path


def read_metadata(path: Path) -> dict[str, Any]:
    """The vidcolor metadata of a .safetensors file: a JSON object, or UserError."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["vidcolor"])
    except KeyError:
        raise UserError(f"{path}: not a vidcolor model file (a safetensors file without vidcolor's metadata)") from None
    except SafetensorError:
        raise UserError(f"{path}: not a vidcolor model file (not a .safetensors file" + (
            "; a training checkpoint? `vidcolor export RUN -o MODEL.safetensors` makes a model of its run)"
            if path.suffix == ".pt" else ")")) from None
    except (json.JSONDecodeError, OSError) as exc:
        raise UserError(f"{path}: not a vidcolor model file ({exc})") from None
    except RecursionError:
        raise UserError(f"{path}: not a vidcolor model file (its metadata is nested beyond reason)") from None
    if not isinstance(meta, dict):
        raise UserError(f"{path}: not a vidcolor model file (its metadata is not a JSON object)")
    return meta


def update_metadata(path: Path, changes: dict[str, Any]) -> None:
    """Merge `changes` into a model file's metadata (a description, recorded scores); its tensors are
    written back as they were read, so the weights stay bit for bit what was trained."""
    write_weights_file(path, read_weights(path), read_metadata(path) | changes)


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a .safetensors file, or UserError (never unpickles anything)."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UserError(f"{path}: cannot read weights ({exc})") from None


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether the tensors hold no NaN or infinite number (integer ones cannot)."""
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def check_finite(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Refuse weights a diverged training run left (NaN or infinite): they would colour every picture black."""
    if not all_finite(state.values()):
        raise UserError(f"{path}: its weights hold NaN or infinite values (a training run that diverged?)")


_USABLE: dict[type, Callable[[Any], bool]] = {  # the kinds of value an architecture's options take, by default's type
    bool: lambda v: isinstance(v, bool),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < math.inf,
    str: lambda v: isinstance(v, str),
}


def model_spec(path: Path, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The family a model file names and its architecture options, each one its family takes, of the type it
    takes (each architecture refuses sizes beyond its own limits before it builds anything)."""
    family, arch = meta.get("family"), meta.get("arch", {})
    if not isinstance(family, str) or family not in FAMILIES:
        raise UserError(f"{path}: unknown model family {family!r}")
    if not isinstance(arch, dict):
        raise UserError(f"{path}: its metadata's arch is not a JSON object ({arch!r})")
    takes = inspect.signature(FAMILIES[family]).parameters
    for name, value in arch.items():
        if name not in takes:
            raise UserError(f"{path}: its metadata gives a {family} model an option it does not take ({name!r})")
        usable = _USABLE.get(type(takes[name].default))
        if usable is None or not usable(value):
            raise UserError(f"{path}: its metadata gives no usable {name} ({value!r})")
    return family, arch


def load_model(name_or_path: str | Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Build the architecture named in the file's metadata and load its weights (eval mode); a str may name a
    shipped model, a Path is a file (`resolve_model_path`)."""
    path = resolve_model_path(name_or_path)
    meta = read_metadata(path)
    family, arch = model_spec(path, meta)
    try:
        model = build_model(family, **arch)
    except (ValueError, RuntimeError) as exc:  # options of the right types no version of the family takes
        raise UserError(f"{path}: its metadata does not describe a {family} model ({exc})") from None
    size, gain = meta.get("working_size", 1), meta.get("chroma_gain", 1.0)
    if not isinstance(size, int) or size < 1:
        raise UserError(f"{path}: its metadata gives no usable working size ({size!r})")
    if not isinstance(gain, (int, float)) or not 0 <= gain <= MAX_SATURATION:  # beyond, every colour is clipped
        raise UserError(f"{path}: its metadata gives no usable chroma gain ({gain!r})")
    state = read_weights(path)
    if not load_trainable_state(model, state):
        raise UserError(f"{path}: weights do not fit a {family} model ({arch})")
    check_finite(path, state)
    return model.to(device).eval(), meta
