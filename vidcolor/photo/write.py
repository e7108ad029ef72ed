"""Writing a photo: RGB or RGBA, 8 or 16 bits, in the format its name asks for (what a format cannot hold,
depth or alpha, is dropped), with its EXIF and ICC profile carried into .jpg and .png."""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import tifffile

from ..utils.atomic import check_not_a_folder
from ..utils.errors import UserError
from .metadata import PhotoMetadata, with_metadata
from .read import ALPHA_EXTS, TIFF_EXTS, to_depth

PHOTO_OUTPUT_EXTS = {".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".webp", ".bmp"}  # RGB(A) that OpenCV writes


DEEP_EXTS = {".png", *TIFF_EXTS}  # photo formats that keep 16 bits per channel; the others get 8


def check_photo_output(path: Path) -> None:
    """Refuse, before any work, a photo output whose name no image format goes by."""
    check_not_a_folder(path, "the photo's output file name", "photo_color.png")
    if path.suffix.lower() not in PHOTO_OUTPUT_EXTS:
        raise UserError(f"{path}: cannot write a photo with this name (use .png, .jpg, .tif, .webp or .bmp)")


def write_image(path: Path, image: np.ndarray, metadata: PhotoMetadata | None = None) -> None:
    """Write RGB or RGBA, uint8 or uint16; the format follows the extension. Formats that cannot hold 16 bits
    or alpha get 8 bits and no alpha. `metadata` (EXIF, ICC) goes into .jpg and .png files."""
    suffix = path.suffix.lower()
    if image.dtype != np.uint8 and suffix not in DEEP_EXTS:
        image = to_depth(image, np.uint8)
    if image.shape[-1] == 4 and suffix not in ALPHA_EXTS:
        image = image[..., :3]
    if image.shape[-1] == 4 and suffix in TIFF_EXTS:
        encoded = _tiff_with_alpha(image)
    else:
        encoded = _opencv_encoded(image, suffix, path)
    path.write_bytes(with_metadata(encoded, suffix, metadata) if metadata else encoded)


def _opencv_encoded(image: np.ndarray, suffix: str, path: Path) -> bytes:
    code = cv2.COLOR_RGBA2BGRA if image.shape[-1] == 4 else cv2.COLOR_RGB2BGR
    try:
        ok, buf = cv2.imencode(suffix or ".png", cv2.cvtColor(image, code))
    except cv2.error:
        ok = False
    if not ok:
        raise UserError(f"{path}: cannot encode an image with extension {path.suffix!r}")
    return buf.tobytes()


def _tiff_with_alpha(image: np.ndarray) -> bytes:
    """RGBA TIFF whose fourth channel is tagged as (unassociated) alpha, which OpenCV leaves untagged, so
    other readers would not know it is transparency."""
    buf = io.BytesIO()
    tifffile.imwrite(buf, image, photometric="rgb", extrasamples=["unassalpha"], compression="zlib", metadata=None)
    return buf.getvalue()
