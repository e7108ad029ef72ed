"""What can be asked for: the default model, containers, codecs, presets, devices, smoothing modes, sizes. Kept
free of heavy imports so the command line can offer these choices without loading PyAV or torch."""
from __future__ import annotations

DEFAULT_MODEL = "fusion"  # the best shipped model by the validation table in models/README.md

# Output extension -> (FFmpeg muxer, default video encoder, audio encoder for codecs it cannot take).
CONTAINERS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
}
# The quality scale (--crf) differs per encoder; None: lossless, no scale (FFV1, the archival codec, in .mkv only).
CRF_MAX: dict[str, int | None] = {"libx264": 51, "libx265": 51, "libvpx-vp9": 63, "ffv1": None}
VIDEO_CODECS = tuple(CRF_MAX)
FILM_BITS = (8, 10)  # --max-bits: 10 keeps a 10-bit film's depth where the encoder can write it
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEVICES = ("auto", "cpu", "cuda", "mps")  # vidcolor.runtime.device.resolve_device
TEMPORAL_MODES = ("flow", "ema", "none")  # vidcolor.runtime.temporal.make_smoother; here so the CLI need not import it
# `vidcolor run`'s options (and the API's arguments) that only a film uses: a photo is coloured without them
FILM_OPTIONS = ("batch_size", "temporal", "window", "crf", "preset", "codec", "max_bits")
DEFAULT_WINDOW = 8  # frames of temporal look-ahead: steadier colour than the past alone (benchmarks/README.md)
MAX_FRAME = 10 ** 10  # past any film (thirteen years at 24 fps): a number of hundreds of digits is no frame
MAX_WINDOW = 32  # frames of temporal look-ahead: up to twice as many decoded frames are held in memory
WORKING_SIZES = (32, 4096)  # --working-size: the short side a model may work at (smaller loses the picture)
LOSSES = ("l1", "mse", "rgb", "bins")  # vidcolor train --loss: vidcolor.training.losses.ColorLoss
FAMILIES = ("unet", "gan", "fusion")  # vidcolor train --model: vidcolor.runtime.archs.FAMILIES builds each
BALANCES = ("none", "prefix", "folder")  # vidcolor train --balance: vidcolor.training.data.TrainingSet
PRECISIONS = ("auto", "bf16", "fp32")  # vidcolor train --precision: vidcolor.training.speed.autocast
# a binned head's annealed-mean temperature (--temperature): below it the colour is its likeliest bin's already,
# and far below, logits divided by it overflow and the softmax is NaN
MIN_TEMPERATURE = 0.01
# the architecture options a model may have (vidcolor train, and what a model file may ask to be built): far beyond
# any model trained here (width 32, 4 blocks, 17 bins), within two gigabytes of weights at the limits
MAX_WIDTH = 128
MAX_BLOCKS8 = 8
MAX_AB_BINS = 64
# training's sizes: far beyond a night's run on any one machine (a batch of 1024 crops of 1024 px is 13 GB of input),
# and short of a request that fails in a traceback for its memory; a seed torch's generators take
TRAIN_SIZES = (32, 1024)
MAX_TRAIN_BATCH = 1024
SEEDS = (-(2 ** 32), 2 ** 32)  # torch takes negative seeds too
MAX_SATURATION = 3.0  # runtime.inference.Colorizer: beyond this any model's chroma is clipped to the gamut's edge
