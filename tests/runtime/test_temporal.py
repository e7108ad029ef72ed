"""Colour must not flicker: smoothing follows motion, resets at cuts and keeps going through fades."""
import cv2
import numpy as np
import pytest
import torch

from vidcolor.runtime.temporal import SceneCutDetector, frames_ahead, make_smoother


def _texture(seed: int, h: int = 64, w: int = 96) -> np.ndarray:
    """Smooth random texture with L spread over 10-90, like a detailed grey scene."""
    blurred = cv2.GaussianBlur(np.random.default_rng(seed).random((h, w)).astype(np.float32), (0, 0), 2.0)
    return 10 + 80 * (blurred - blurred.min()) / (blurred.max() - blurred.min())


def _film(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)[:, None]).clamp(0, 100)


def _flickering_chroma(n: int, h: int = 64, w: int = 96) -> torch.Tensor:
    """The model's guesses: one true colour plus independent noise per frame."""
    noise = torch.from_numpy(np.random.default_rng(7).normal(0, 0.2, (n, 2, h, w)).astype(np.float32))
    return torch.tensor([0.3, -0.2]).view(1, 2, 1, 1) + noise


@pytest.mark.parametrize("mode", ["flow", "ema"])
def test_smoothing_calms_flicker_on_a_still_shot(mode):
    L = _film([_texture(0)] * 10)
    ab = _flickering_chroma(10)
    smoothed = make_smoother(mode)(L, ab)
    assert smoothed[5:].std(dim=0).mean() < 0.5 * ab[5:].std(dim=0).mean()


def test_flow_smoothing_follows_a_pan_and_keeps_color_on_the_object():
    base = _texture(1, 64, 160)
    L = _film([base[:, 2 * t:2 * t + 96] for t in range(10)])
    ab = _flickering_chroma(10)
    flow, ema = make_smoother("flow")(L, ab), make_smoother("ema")(L, ab)
    truth = torch.tensor([0.3, -0.2]).view(1, 2, 1, 1)
    assert (flow[5:] - truth).abs().mean() < (ab[5:] - truth).abs().mean() * 0.7
    assert (flow[5:] - truth).abs().mean() < (ema[5:] - truth).abs().mean()


def test_a_scene_cut_starts_afresh():
    L = _film([_texture(2)] * 5 + [_texture(3)] * 3)
    ab = _flickering_chroma(8)
    smoothed = make_smoother("flow")(L, ab)
    torch.testing.assert_close(smoothed[5], ab[5])
    assert not torch.allclose(smoothed[4], ab[4])


def test_a_fade_is_not_a_cut():
    detector = SceneCutDetector()
    frame = _texture(4)
    assert not any(detector(frame * k) for k in np.linspace(1.0, 0.2, 12))
    night_street = np.where(_texture(5) > 50, 80.0, 20.0) + _texture(6) * 0.05  # a different spread of greys
    assert detector(night_street)


def test_frames_can_arrive_in_batches():
    L, ab = _film([_texture(6)] * 8), _flickering_chroma(8)
    whole = make_smoother("flow")(L, ab)
    smoother = make_smoother("flow")
    parts = torch.cat([smoother(L[:3], ab[:3]), smoother(L[3:], ab[3:])])
    torch.testing.assert_close(parts, whole)


def _everything(smoother, L: torch.Tensor, ab: torch.Tensor, batch: int = 3) -> tuple[list[int], torch.Tensor]:
    """Feed a film in batches; (frames handed back per call, then at the end; all the output)."""
    parts = [smoother(L[i:i + batch], ab[i:i + batch]) for i in range(0, len(L), batch)] + [smoother.flush()]
    return [len(p) for p in parts], torch.cat(parts)


def test_look_ahead_holds_back_at_most_twice_the_window_and_gives_every_frame_back_in_order():
    L, ab = _film([_texture(6)] * 10), _flickering_chroma(10)
    counts, out = _everything(make_smoother("flow", window=4), L, ab)
    assert counts == [0, 0, 4, 0, 6] and len(out) == 10  # settled 4 at a time once 8 are held
    _, at_once = _everything(make_smoother("flow", window=4), L, ab, batch=10)
    torch.testing.assert_close(out, at_once)


def test_look_ahead_steadies_the_first_frames_of_a_shot_too():
    L, ab = _film([_texture(0)] * 10), _flickering_chroma(10)
    truth = torch.tensor([0.3, -0.2]).view(1, 2, 1, 1)
    causal = make_smoother("flow")(L, ab)
    _, ahead = _everything(make_smoother("flow", window=6), L, ab)
    assert (ahead[:3] - truth).abs().mean() < 0.7 * (causal[:3] - truth).abs().mean()
    assert ahead.std(dim=0).mean() < causal.std(dim=0).mean()


def test_a_frame_sees_exactly_frames_ahead_of_it_and_no_further():
    L, ab = _film([_texture(6)] * 12), _flickering_chroma(12)
    _, whole = _everything(make_smoother("flow", window=3), L, ab)
    seen = 1 + frames_ahead(3)
    _, cut_there = _everything(make_smoother("flow", window=3), L[:seen], ab[:seen])
    _, cut_sooner = _everything(make_smoother("flow", window=3), L[:seen - 1], ab[:seen - 1])
    torch.testing.assert_close(whole[0], cut_there[0])
    assert not torch.allclose(whole[0], cut_sooner[0])


def test_look_ahead_never_reaches_across_a_scene_cut():
    L = _film([_texture(2)] * 5 + [_texture(3)] * 4)
    ab = _flickering_chroma(9)
    _, whole = _everything(make_smoother("flow", window=4), L, ab)
    _, before_the_cut = _everything(make_smoother("flow", window=4), L[:5], ab[:5])
    torch.testing.assert_close(whole[:5], before_the_cut)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        make_smoother("magic")
