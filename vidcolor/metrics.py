"""Image quality metrics used by training validation and the benchmarks."""
from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of two uint8 (or [0, 255] float) images."""
    mse = np.mean((pred.astype(np.float64) - truth.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean SSIM over RGB channels of two uint8 images."""
    return float(structural_similarity(pred, truth, channel_axis=-1, data_range=255))


def colourfulness(rgb: np.ndarray) -> float:
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


def cdc(frames: list[np.ndarray], gaps: tuple[int, ...] = (1, 2, 4)) -> float:
    """Colour distribution consistency (TCVC): lower means steadier colour over time.

    Per RGB channel, 256-bin histograms normalised by pixel count; the Jensen-Shannon divergence
    between frames t and t+d, averaged over t, for each gap d (weighted equally), averaged over channels.
    """
    hists = [[np.bincount(f[..., c].ravel(), minlength=256) / f[..., c].size for c in range(3)] for f in frames]
    per_channel = []
    for c in range(3):
        terms = [np.mean([_js_divergence(hists[t][c], hists[t + d][c]) for t in range(len(frames) - d)])
                 for d in gaps if len(frames) > d]
        if terms:
            per_channel.append(float(np.mean(terms)))
    return float(np.mean(per_channel)) if per_channel else 0.0


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


def warping_error(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> float:
    """Warping error (Lai et al. 2018): masked MSE between output t-1 and output t warped back to t-1.

    Flow comes from the *input* frames (their luma is what we trust); RGB in [0, 1]; averaged over frames.
    """
    import cv2

    errors = []
    greys = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f for f in inputs]
    for t in range(1, len(outputs)):
        fw = optical_flow(greys[t - 1], greys[t])
        bw = optical_flow(greys[t], greys[t - 1])
        mask = reliable_flow_mask(fw, bw)
        if not mask.any():
            continue
        warped = warp(outputs[t].astype(np.float32) / 255.0, fw)
        diff = (warped - outputs[t - 1].astype(np.float32) / 255.0) ** 2
        errors.append(float(diff[mask].mean()))
    return float(np.mean(errors)) if errors else 0.0
