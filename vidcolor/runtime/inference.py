"""Colouring L: run a model at its working size, then bring chroma back to full resolution.

The model sees a small image (fast, and the scale it was trained at); chroma is then upsampled
with a fast guided filter (He & Sun 2015, runtime.guided) steered by the full-resolution L, so colour edges
snap to the original's edges instead of bleeding across them. The output's L is always the input's.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..utils.choices import MAX_SATURATION, WORKING_SIZES
from ..utils.errors import UserError
from .color import AB_SCALE, fit_to_gamut, from_int_images, lab_to_rgb, rgb_to_l, to_int_images
from .device import reduced_precision, resolve_device
from .guided import apply_coefficients, guided_coefficients, guided_upsample, pool, resized_rows
from .hints import REFERENCE_BINS, Told, hint_planes
from .temporal import TemporalSmoother
from .weights import all_finite, load_model

DEFAULT_WORKING_SIZE = 224
AB_LIMIT = AB_SCALE * 1.2  # upsampled chroma is clamped here: the guided filter may overshoot the model's range
PHOTO_STRIP_PIXELS = 1 << 21  # a photo's full-resolution work is done ~2 megapixels at a time
Tag = TypeVar("Tag")


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

        `saturation` scales the predicted chroma (1: the model's own colour, 0: grey), for taste; colours a hint
        model is told (clicks and keyframes, where its gate lets them through) stay as told.
        """
        net, meta = load_model(name_or_path)
        return cls(net, meta, resolve_device(device), working_size, saturation)

    @property
    def takes_hints(self) -> bool:
        """Whether the model takes colour points and a reference palette (a hint model)."""
        return bool(getattr(self.model, "takes_hints", False))

    def require_hints(self) -> Colorizer:
        """Itself, if it takes hints; else the one line every way in (command line, folders, web page) says."""
        if not self.takes_hints:
            raise UserError("this model takes no hints or reference: give a hint model (`vidcolor models` lists them)")
        return self

    @torch.no_grad()
    def predict_ab(self, L_low: torch.Tensor, hints: torch.Tensor | None = None,
                   reference: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 1, h, w) L in [0, 100] at working size -> (B, 2, h, w) scaled a/b; a hint model may be given
        (B, 3, h, w) hint planes and (B, REFERENCE_BINS²) references (runtime.hints)."""
        told = {k: v.to(self.device) for k, v in (("hints", hints), ("reference", reference)) if v is not None}
        with reduced_precision(self.device):
            if told:  # the gain is on the model's own colours: what the user told it stays as told
                ab = self.model(L_low.to(self.device), gain=self.chroma_gain, **told).float()
            else:
                ab = self.model(L_low.to(self.device)).float() * self.chroma_gain
        if not all_finite((ab,)):  # weights finite but blown up (a run on its way to diverging)
            raise UserError("the model's colours are not numbers: its weights are broken (a training run that "
                            "diverged?)")
        return ab

    @torch.no_grad()
    def predict_low(self, L: torch.Tensor, told: Sequence[Told] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1, H, W) full-resolution L -> (L, scaled a/b) at the working size, on L's device; `told`: what
        the user says of each picture (a hint model only)."""
        h, w = working_shape(*L.shape[-2:], self.working_size)
        L_low = F.interpolate(L, size=(h, w), mode="area") if (h, w) != tuple(L.shape[-2:]) else L
        ab = self.predict_ab(L_low, *self._told(told, L.shape[-2:], h, w))
        if told and any((t.points[:, 4] > 0).any() for t in told):  # a keyframe's painting
            cells = torch.stack([hint_planes(t.points[t.points[:, 4] > 0], h, w, w / L.shape[-1], h / L.shape[-2])
                                 for t in told]).to(ab.device)
            ab = torch.where(cells[:, 2:] > 0, cells[:, :2], ab)  # as painted: the model would average it with the rest
        return L_low, ab.to(L.device)

    def _told(self, told: Sequence[Told] | None, size: tuple[int, int], h: int, w: int
              ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Hint planes and references for the model, or None for each that no picture was given."""
        if not told or not any(len(t.points) or t.reference is not None for t in told):
            return None, None
        self.require_hints()
        planes = torch.stack([hint_planes(_for_the_model(t.points), h, w, w / size[1], h / size[0]) for t in told])
        references = torch.stack([t.reference if t.reference is not None else torch.zeros(REFERENCE_BINS ** 2)
                                  for t in told])
        return (planes if planes[:, 2].any() else None), (references if references.any() else None)

    @staticmethod
    def upsample(ab_low: torch.Tensor, L_low: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """Working-size scaled a/b -> (B, 2, H, W) a/b in Lab units at L's resolution, edges from L."""
        ab = guided_upsample(ab_low * AB_SCALE, L_low / 100.0, L / 100.0)  # scaled at low resolution: cheaper
        return ab.clamp_(-AB_LIMIT, AB_LIMIT)

    def colorize_rgb(self, rgb: np.ndarray, told: Told | None = None) -> np.ndarray:
        """(H, W, C) or (B, H, W, C) RGB or RGBA, uint8 or uint16 (colour or grey) -> coloured, with the same
        size, depth and alpha, L kept; `told`: what the user says of it (every picture of a batch alike).

        Only L is held whole at full resolution; the rest is done in strips of PHOTO_STRIP_PIXELS, so a big
        scan fits in memory (a 24-megapixel photo peaks at 1.2 GB for the whole run, not 2.7 GB)."""
        batch = rgb[None] if rgb.ndim == 3 else rgb
        height, width = batch.shape[1:3]
        rows = max(1, PHOTO_STRIP_PIXELS // width)
        strips = [(y, min(height, y + rows)) for y in range(0, height, rows)]
        L = torch.cat([rgb_to_l(from_int_images(batch[:, y0:y1, :, :3])) for y0, y1 in strips], dim=-2)
        L_low, ab_low = self.predict_low(L, [told] * len(batch) if told else None)
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


def _for_the_model(points: np.ndarray) -> np.ndarray:
    """The points a hint model is told: a keyframe's cells are painted as they are (`predict_low`), so where a
    click meets a painting the model is told the clicks alone (among thousands of cells, it would drown them)."""
    clicks = points[points[:, 4] == 0]
    return clicks if len(clicks) else points


def l_ab_to_image(L: torch.Tensor, ab: torch.Tensor, dtype: type[np.unsignedinteger] = np.uint8) -> np.ndarray:
    """(B, 1, H, W) L and (B, 2, H, W) a/b in Lab units -> (B, H, W, 3) RGB, uint8 (or uint16)."""
    return to_int_images(lab_to_rgb(torch.cat([L, ab], dim=1)), dtype)


class FilmChroma(Generic[Tag]):
    """Chroma for the consecutive frames of one film: model, temporal smoothing, then upsampling.

    With look-ahead smoothing a frame's chroma is final only up to `frames_ahead(window)` frames after it came in,
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
