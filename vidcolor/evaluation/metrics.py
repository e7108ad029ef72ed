"""Image quality metrics used by training validation and the benchmarks."""
from __future__ import annotations

import math

import numpy as np
from skimage.metrics import structural_similarity

from ..utils.flow import dis_fits


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two uint8 (or [0, 255] float) images."""
    mse = np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over RGB channels of two uint8 images; a smaller window for pictures under 7 pixels a side,
    and NaN (not measured) under 3."""
    side = min(pred.shape[:2])
    if side < 3:
        return math.nan
    return float(structural_similarity(pred, truth, channel_axis=-1, data_range=255,
                                       win_size=min(7, side if side % 2 else side - 1)))


def colorfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness of an RGB uint8 image: 0 for grey, ~40+ for vivid photos."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two histograms that each sum to 1."""
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        nz = a > 0
        return float(np.sum(a[nz] * np.log(a[nz] / b[nz])))
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def _histograms(frame: np.ndarray) -> list[np.ndarray]:
    return [np.bincount(frame[..., c].ravel(), minlength=256) / frame[..., c].size for c in range(3)]


class CdcMeter:
    """Colour distribution consistency (TCVC), fed one frame at a time: lower means steadier colour.

    Per RGB channel, 256-bin histograms normalised by pixel count; the Jensen-Shannon divergence
    between frames t and t+d, averaged over t, for each gap d (weighted equally), averaged over
    channels. Only the last max(gaps) histograms are kept, so films of any length fit in memory.
    """

    def __init__(self, gaps: tuple[int, ...] = (1, 2, 4)) -> None:
        self.gaps = gaps
        self.recent: list[list[np.ndarray]] = []
        self.sums = {(d, c): 0.0 for d in gaps for c in range(3)}
        self.counts = {d: 0 for d in gaps}

    def add(self, frame: np.ndarray) -> None:
        hists = _histograms(frame)
        for d in self.gaps:
            if len(self.recent) >= d:
                old = self.recent[-d]
                for c in range(3):
                    self.sums[d, c] += _js_divergence(old[c], hists[c])
                self.counts[d] += 1
        self.recent = (self.recent + [hists])[-max(self.gaps):]

    def value(self) -> float:
        per_channel = [np.mean([self.sums[d, c] / self.counts[d] for d in self.gaps if self.counts[d]])
                       for c in range(3) if any(self.counts.values())]
        return float(np.mean(per_channel)) if per_channel else math.nan  # one frame: nothing to compare


def cdc(frames: list[np.ndarray], gaps: tuple[int, ...] = (1, 2, 4)) -> float:
    """CDC of a list of RGB uint8 frames (see CdcMeter)."""
    meter = CdcMeter(gaps)
    for frame in frames:
        meter.add(frame)
    return meter.value()


def optical_flow(src_grey: np.ndarray, dst_grey: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2): pixel p of `src` moves to p + flow[p] in `dst` (OpenCV DIS, medium)."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(src_grey, dst_grey, None)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at p + flow[p]: brings the frame the flow points into onto the flow's source grid."""
    import cv2

    h, w = flow.shape[:2]
    grid = np.stack(np.meshgrid(np.arange(w), np.arange(h)), axis=-1).astype(np.float32)
    return cv2.remap(image, grid + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable_flow_mask(fw: np.ndarray, bw: np.ndarray) -> np.ndarray:
    """Pixels whose forward flow is confirmed by the backward flow and that lie off motion boundaries.

    The occlusion test of Ruder et al. (used by Lai et al. 2018): |fw + bw(p+fw)|² ≤ 0.01(|fw|² + |bw(p+fw)|²) + 0.5,
    and the motion-boundary test |∇u|² + |∇v|² ≤ 0.01|fw|² + 0.002.
    """
    bw_at = warp(bw, fw)
    consistent = np.sum((fw + bw_at) ** 2, -1) <= 0.01 * (np.sum(fw ** 2, -1) + np.sum(bw_at ** 2, -1)) + 0.5
    du = np.gradient(fw[..., 0])
    dv = np.gradient(fw[..., 1])
    grad = du[0] ** 2 + du[1] ** 2 + dv[0] ** 2 + dv[1] ** 2
    return consistent & (grad <= 0.01 * np.sum(fw ** 2, -1) + 0.002)


class WarpErrorMeter:
    """Warping error (Lai et al. 2018), fed one (output, input) frame pair at a time.

    Output frame t is warped back to t-1 along flow computed on the *input* frames (their luma is
    what we trust); masked MSE of RGB in [0, 1] over reliable pixels, averaged over frames.
    """

    def __init__(self) -> None:
        self.previous: tuple[np.ndarray, np.ndarray] | None = None
        self.errors: list[float] = []

    def add(self, output: np.ndarray, source: np.ndarray) -> None:
        import cv2

        grey = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY) if source.ndim == 3 else source
        if self.previous is not None and dis_fits(*grey.shape):  # else no flow: not measured
            prev_out, prev_grey = self.previous
            fw, bw = optical_flow(prev_grey, grey), optical_flow(grey, prev_grey)
            mask = reliable_flow_mask(fw, bw)
            if mask.any():
                warped = warp(output.astype(np.float32) / 255.0, fw)
                diff = (warped - prev_out.astype(np.float32) / 255.0) ** 2
                self.errors.append(float(diff[mask].mean()))
        self.previous = (output, grey)

    def value(self) -> float:
        return float(np.mean(self.errors)) if self.errors else math.nan


def warping_error(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> float:
    """Warping error of a list of output frames given the input frames (see WarpErrorMeter)."""
    meter = WarpErrorMeter()
    for output, source in zip(outputs, inputs):
        meter.add(output, source)
    return meter.value()
