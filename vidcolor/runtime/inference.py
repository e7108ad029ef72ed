"""Colouring L: run a model at its working size, then bring chroma back to full resolution.

The model sees a small image (fast, and the scale it was trained at); chroma is then upsampled
with a fast guided filter (He & Sun 2015) steered by the full-resolution L, so colour edges snap
to the original's edges instead of bleeding across them. The output's L is always the input's.
"""
from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils.choices import DEVICES, MAX_SATURATION, WORKING_SIZES
from ..utils.errors import UserError
from .color import AB_SCALE, fit_to_gamut, from_int_images, lab_to_rgb, rgb_to_l, to_int_images
from .temporal import TemporalSmoother
from .weights import load_model

DEFAULT_WORKING_SIZE = 224
AB_LIMIT = AB_SCALE * 1.2  # upsampled chroma is clamped here: the guided filter may overshoot the model's range
PHOTO_STRIP_PIXELS = 1 << 21  # a photo's full-resolution work is done ~2 megapixels at a time
Tag = TypeVar("Tag")


def _opencv_can(x: torch.Tensor) -> bool:
    """OpenCV takes it: a float32/float64 CPU tensor outside autograd."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and not x.requires_grad


def _plane_by_plane(x: torch.Tensor, filter_2d: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """`filter_2d` applied to every (H, W) plane of a (..., H, W) tensor."""
    planes = x.reshape(-1, *x.shape[-2:]).contiguous().numpy()
    out = np.stack([filter_2d(plane) for plane in planes])
    return torch.from_numpy(out).reshape(*x.shape[:-2], *out.shape[-2:])


def _window_counts(n: int, r: int) -> torch.Tensor:
    """How many of the 2r+1 positions around each of n places lie inside."""
    i = torch.arange(n)
    return (i + r).clamp(max=n - 1) - (i - r).clamp(min=0) + 1


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)x(2r+1) window, shrunk at the borders (avg_pool2d's count_include_pad=False).

    OpenCV's box filter where it can (on CPU ~15x faster than torch), else differences of running
    sums one axis at a time (half the time of avg_pool2d).
    """
    counts = [_window_counts(n, r).to(x.device, x.dtype) for n in x.shape[-2:]]
    if _opencv_can(x):
        sums = _plane_by_plane(x, lambda plane: cv2.boxFilter(plane, -1, (2 * r + 1, 2 * r + 1), normalize=False,
                                                              borderType=cv2.BORDER_CONSTANT))
        return sums / (counts[0][:, None] * counts[1])
    for dim, count in ((-1, counts[1]), (-2, counts[0][:, None])):
        n = x.shape[dim]
        sums = F.pad(x, (r + 1, r) if dim == -1 else (0, 0, r + 1, r)).cumsum(dim)
        x = (sums.narrow(dim, 2 * r + 1, n) - sums.narrow(dim, 0, n)) / count
    return x


def pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """Mean over k x k blocks (sizes divisible by k): a 4:2:0 film's chroma-plane guide. OpenCV where it
    can (on CPU ~20x faster than torch), else avg_pool2d."""
    if not _opencv_can(x):
        return F.avg_pool2d(x, k)
    h, w = x.shape[-2:]
    return _plane_by_plane(x, lambda plane: cv2.resize(plane, (w // k, h // k), interpolation=cv2.INTER_AREA))


def guided_coefficients(ab_low: torch.Tensor, guide_low: torch.Tensor, radius: int = 2,
                        eps: float = 1e-3) -> torch.Tensor:
    """Fast guided filter, low-resolution half: the local fit ab ≈ A·guide + b, as (B, 2C, h, w): A, then b.
    The local statistics share one box filter."""
    c = ab_low.shape[1]
    stats = box_mean(torch.cat([guide_low, ab_low, guide_low * ab_low, guide_low * guide_low], dim=1), radius)
    mean_i, mean_p, mean_ip, mean_ii = stats.split([1, c, c, 1], dim=1)
    a = (mean_ip - mean_i * mean_p) / (mean_ii - mean_i * mean_i + eps)
    b = mean_p - a * mean_i
    return box_mean(torch.cat([a, b], dim=1), radius)


def apply_coefficients(coef: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Fast guided filter, full-resolution half: A·guide + b with A, b already at the guide's size."""
    c = coef.shape[1] // 2
    return torch.addcmul(coef[:, c:], coef[:, :c], guide)


def guided_upsample(ab_low: torch.Tensor, guide_low: torch.Tensor, guide_full: torch.Tensor) -> torch.Tensor:
    """Fast guided filter: fit ab ≈ A·guide + b locally at low resolution, apply A, b at full size; all that
    runs at full resolution is one interpolation and a fused multiply-add."""
    coef = F.interpolate(guided_coefficients(ab_low, guide_low), size=guide_full.shape[-2:], mode="bilinear",
                         align_corners=False)
    return apply_coefficients(coef, guide_full)


def resized_rows(x: torch.Tensor, height: int, start: int, stop: int) -> torch.Tensor:
    """Rows start:stop of (…, h, W) `x` resized to `height` rows as F.interpolate's bilinear mode does
    (align_corners False), without making the others: a tall photo's coefficients a strip at a time."""
    h = x.shape[-2]
    y = ((torch.arange(start, stop, dtype=torch.float64) + 0.5) * (h / height) - 0.5).clamp_min(0.0)
    top = y.floor().long().clamp_max(h - 1)
    weight = (y - top).to(x.dtype)[:, None]
    return torch.lerp(x[..., top, :], x[..., (top + 1).clamp_max(h - 1), :], weight)


def _reduced_precision(device: torch.device) -> contextlib.AbstractContextManager:
    """fp16 on CUDA, bf16 on CPUs with native bf16 (about 1.8x faster here, output within ~50 dB
    PSNR of fp32 and the same validation scores); plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """auto -> cuda if available, else mps, else cpu; a device named (cpu, cuda, cuda:N, mps) must be there."""
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        return torch.device("mps" if mps else "cpu")
    kind, colon, number = name.partition(":")
    if kind not in DEVICES[1:] or (colon and (kind != "cuda" or not (number.isascii() and number.isdigit()))):
        raise UserError(f"unknown device {name!r} (auto, cpu, cuda, cuda:N or mps)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but no CUDA GPU is available")
    if kind == "cuda" and int(number or local_rank) >= torch.cuda.device_count():
        raise UserError(f"--device {name} asked for, but this machine has {torch.cuda.device_count()} CUDA GPUs")
    if kind == "mps" and not mps:
        raise UserError("--device mps asked for, but no Apple GPU (MPS) is available")
    return torch.device("cuda", int(number or local_rank)) if kind == "cuda" else torch.device(kind)


def working_shape(h: int, w: int, short_side: int, multiple: int = 8) -> tuple[int, int]:
    """(h, w) scaled so the short side is `short_side` (never upscaled), rounded to `multiple`."""
    scale = min(1.0, short_side / min(h, w))
    return (max(multiple, round(h * scale / multiple) * multiple),
            max(multiple, round(w * scale / multiple) * multiple))


class Colorizer:
    """A loaded model plus the recipe for using it on frames of any size."""

    def __init__(self, model: nn.Module, meta: dict[str, Any] | None = None,
                 device: torch.device | str = "cpu", working_size: int | None = None,
                 saturation: float = 1.0) -> None:
        self.meta = meta or {}
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if working_size is not None and not WORKING_SIZES[0] <= working_size <= WORKING_SIZES[1]:
            raise UserError(f"the working size must be between {WORKING_SIZES[0]} and {WORKING_SIZES[1]} pixels")
        self.working_size = working_size or int(self.meta.get("working_size", DEFAULT_WORKING_SIZE))
        if not 0.0 <= saturation <= MAX_SATURATION:  # also refuses NaN
            raise UserError(f"saturation must be between 0 and {MAX_SATURATION:g}")
        self.chroma_gain = float(self.meta.get("chroma_gain", 1.0)) * saturation

    @classmethod
    def load(cls, name_or_path: str, device: str = "auto", working_size: int | None = None,
             saturation: float = 1.0) -> Colorizer:
        """A shipped model by name, or an exported .safetensors file, ready on `device`.

        `saturation` scales the predicted chroma (1: the model's own colour, 0: grey), for taste.
        """
        net, meta = load_model(name_or_path)
        return cls(net, meta, resolve_device(device), working_size, saturation)

    @torch.no_grad()
    def predict_ab(self, L_low: torch.Tensor) -> torch.Tensor:
        """(B, 1, h, w) L in [0, 100] at working size -> (B, 2, h, w) scaled a/b."""
        L_low = L_low.to(self.device)
        with _reduced_precision(self.device):
            return self.model(L_low).float() * self.chroma_gain

    @torch.no_grad()
    def predict_low(self, L: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) full-resolution L -> (L, scaled a/b) at the working size, on L's device."""
        h, w = working_shape(*L.shape[-2:], self.working_size)
        L_low = F.interpolate(L, size=(h, w), mode="area") if (h, w) != tuple(L.shape[-2:]) else L
        return L_low, self.predict_ab(L_low).to(L.device)

    @staticmethod
    def upsample(ab_low: torch.Tensor, L_low: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """Working-size scaled a/b -> (B, 2, H, W) a/b in Lab units at L's resolution, edges from L."""
        ab = guided_upsample(ab_low * AB_SCALE, L_low / 100.0, L / 100.0)  # scaled at low resolution: cheaper
        return ab.clamp_(-AB_LIMIT, AB_LIMIT)

    def colorize_rgb(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W, C) or (B, H, W, C) RGB or RGBA, uint8 or uint16 (colour or grey) -> coloured, with the same
        size, depth and alpha, L kept.

        Only L is held whole at full resolution; the rest is done in strips of PHOTO_STRIP_PIXELS, so a big
        scan fits in memory (a 24-megapixel photo peaks at 1.2 GB for the whole run, not 2.7 GB)."""
        batch = rgb[None] if rgb.ndim == 3 else rgb
        height, width = batch.shape[1:3]
        rows = max(1, PHOTO_STRIP_PIXELS // width)
        strips = [(y, min(height, y + rows)) for y in range(0, height, rows)]
        L = torch.cat([rgb_to_l(from_int_images(batch[:, y0:y1, :, :3])) for y0, y1 in strips], dim=-2)
        L_low, ab_low = self.predict_low(L)
        coef = guided_coefficients(ab_low * AB_SCALE, L_low / 100.0)
        coef = F.interpolate(coef, size=(coef.shape[-2], width), mode="bilinear", align_corners=False)  # widths
        out = np.empty((*batch.shape[:3], 3), batch.dtype)
        for y0, y1 in strips:
            L_strip = L[..., y0:y1, :]
            ab = apply_coefficients(resized_rows(coef, height, y0, y1), L_strip / 100.0)
            ab = ab.clamp_(-AB_LIMIT, AB_LIMIT)
            out[:, y0:y1] = l_ab_to_image(L_strip, fit_to_gamut(L_strip, ab), batch.dtype.type)
        if batch.shape[-1] == 4:
            out = np.concatenate([out, batch[..., 3:]], axis=-1)
        return out[0] if rgb.ndim == 3 else out


def l_ab_to_image(L: torch.Tensor, ab: torch.Tensor, dtype: type[np.unsignedinteger] = np.uint8) -> np.ndarray:
    """(B, 1, H, W) L and (B, 2, H, W) a/b in Lab units -> (B, H, W, 3) RGB, uint8 (or uint16)."""
    return to_int_images(lab_to_rgb(torch.cat([L, ab], dim=1)), dtype)


class FilmChroma(Generic[Tag]):
    """Chroma for the consecutive frames of one film: model, temporal smoothing, then upsampling.

    With look-ahead smoothing a frame's chroma is final only `window` frames after it came in,
    so `push` hands back the oldest frames that are ready (fewer than it was given, at first)
    and `flush` the rest at the end. Each frame travels with a caller's tag (the decoded frame,
    the reference image...) so the caller never has to count.

    `subsample` 2 hands back chroma (and L) at half the frame's size, for 4:2:0 video: chroma is
    upsampled straight to the size of the U/V planes instead of to full size and back down.
    """

    def __init__(self, colorizer: Colorizer, smoother: TemporalSmoother, subsample: int = 1) -> None:
        self.colorizer, self.smoother, self.subsample = colorizer, smoother, subsample
        self.pending: deque[tuple[Tag, torch.Tensor, torch.Tensor]] = deque()  # tag, L at working size, guide L

    def push(self, L: torch.Tensor, tags: Sequence[Tag]) -> tuple[list[Tag], torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) full-resolution L of the next frames -> (tags, L, a/b in Lab units) of the ready ones,
        at 1/`subsample` of the frames' size."""
        return self.push_predicted(L, *self.colorizer.predict_low(L), tags)

    def push_predicted(self, L: torch.Tensor, L_low: torch.Tensor, ab_low: torch.Tensor,
                       tags: Sequence[Tag]) -> tuple[list[Tag], torch.Tensor, torch.Tensor]:
        """`push` for frames whose prediction (`Colorizer.predict_low(L)`) was made elsewhere, e.g. in a
        worker thread; predictions must still come in film order."""
        guide = pool(L, self.subsample) if self.subsample > 1 else L
        self.pending.extend(zip(tags, L_low, guide, strict=True))
        return self._finish(self.smoother(L_low, ab_low))

    def flush(self) -> tuple[list[Tag], torch.Tensor, torch.Tensor]:
        """The frames still held back for their look-ahead: the film has ended."""
        return self._finish(self.smoother.flush())

    def _finish(self, ab_low: torch.Tensor) -> tuple[list[Tag], torch.Tensor, torch.Tensor]:
        ready = [self.pending.popleft() for _ in range(ab_low.shape[0])]
        if not ready:
            return [], torch.empty(0, 1, 0, 0), torch.empty(0, 2, 0, 0)
        tags, L_low, L = zip(*ready)
        L_low, L = torch.stack(L_low), torch.stack(L)
        return list(tags), L, self.colorizer.upsample(ab_low.to(L.device), L_low, L)
