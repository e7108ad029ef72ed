"""Make examples/old_film.mp4: a short black-and-white "old film" with a sound track.

A slow pan across scikit-image's sample photos, desaturated, with a little flicker, grain and
vignetting, and a synthesized tune as AAC audio. It is small enough to keep in the repository and
exercises the whole `vidcolor run` pipeline (picture and sound):

    python examples/make_example.py
    vidcolor run examples/old_film.mp4 -o film_color.mp4
"""
from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from skimage import data

WIDTH, HEIGHT, FPS = 480, 270, 24
SECONDS_PER_PHOTO = 1.25
AUDIO_RATE = 44100
# A little tune, (MIDI note, beats), at 144 beats a minute.
TUNE = [(67, 1), (64, 1), (60, 2), (62, 1), (64, 1), (65, 2), (67, 1), (72, 1), (71, 1), (69, 1),
        (67, 2), (64, 2)]
BEAT = 60 / 144


def photos() -> list[np.ndarray]:
    """The sample photos as float grey images (BT.601 luma, like a b/w film of the scene)."""
    return [cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
            for img in (data.astronaut(), data.coffee(), data.chelsea(), data.rocket())]


def pan(photo: np.ndarray, t: float) -> np.ndarray:
    """A 16:9 window sliding slowly across `photo` (t in [0, 1]), at the film's size."""
    h, w = photo.shape
    crop_w = min(w, int(h * WIDTH / HEIGHT * 0.8))
    crop_h = int(crop_w * HEIGHT / WIDTH)
    x = int((w - crop_w) * t)
    y = int((h - crop_h) * (0.3 + 0.4 * t))
    return cv2.resize(photo[y:y + crop_h, x:x + crop_w], (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def age(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flicker, grain and a vignette: what makes it look like old film."""
    yy, xx = np.mgrid[-1:1:HEIGHT * 1j, -1:1:WIDTH * 1j]
    vignette = 1.0 - 0.35 * (xx ** 2 + yy ** 2) / 2
    flicker = 1.0 + rng.normal(0, 0.03)
    grain = cv2.GaussianBlur(rng.normal(0, 0.025, img.shape).astype(np.float32), (3, 3), 0)
    return np.clip(img * vignette * flicker + grain, 0, 1)


def tune(seconds: float) -> np.ndarray:
    """The melody on a soft organ-like voice, as (1, samples) float32."""
    out = np.zeros(int(seconds * AUDIO_RATE), np.float32)
    start = 0.0
    while start < seconds:
        for note, beats in TUNE:
            n = int(beats * BEAT * AUDIO_RATE)
            t = np.arange(n) / AUDIO_RATE
            f = 440.0 * 2 ** ((note - 69) / 12)
            voice = sum(np.sin(2 * np.pi * f * k * t) / k ** 2 for k in (1, 2, 3))
            envelope = np.minimum(1, t / 0.02) * np.exp(-2.5 * t)
            i = int(start * AUDIO_RATE)
            chunk = (0.25 * voice * envelope)[: max(0, len(out) - i)]
            out[i:i + len(chunk)] += chunk
            start += beats * BEAT
    return out[None]


def make(path: Path) -> None:
    rng = np.random.default_rng(1927)
    pictures = photos()
    frames_per_photo = int(SECONDS_PER_PHOTO * FPS)
    with av.open(str(path), "w", container_options={"movflags": "+faststart"}) as out:
        out.metadata["title"] = "Old film (vidcolor example)"
        video = out.add_stream("libx264", rate=FPS, options={"crf": "23", "preset": "slow"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        audio.bit_rate = 64000
        for i in range(len(pictures) * frames_per_photo):
            photo, step = divmod(i, frames_per_photo)
            grey = age(pan(pictures[photo], step / frames_per_photo), rng)
            # A grey frame converts to YUV with U = V = 128 exactly: truly black and white.
            frame = av.VideoFrame.from_ndarray((grey * 255 + 0.5).astype(np.uint8), format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        sound = tune(len(pictures) * SECONDS_PER_PHOTO)
        for start in range(0, sound.shape[1], 4096):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(sound[:, start:start + 4096]),
                                               format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = AUDIO_RATE, start, Fraction(1, AUDIO_RATE)
            out.mux(audio.encode(chunk))
        out.mux(audio.encode())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).resolve().parent / "old_film.mp4")
    make(parser.parse_args().output)
