"""Reading a photo as the file holds it: 16-bit stays 16-bit, transparency is kept (straight, however the
format stores it), the picture is turned upright by its EXIF orientation; and what a file says of itself before
it is decoded (pixels, pages, format)."""
from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

from ..utils.errors import UserError
from ..utils.guard import check_claimed_size, decoding
from ..utils.paths import not_there
from .metadata import PILLOW_ERRORS

# A file they cannot read is ours to report, in one line: the readers' own messages are not shown.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
logging.getLogger("tifffile").setLevel(logging.CRITICAL)
logging.getLogger("PIL").setLevel(logging.CRITICAL)  # "More samples per pixel than can be decoded: 46339"
warnings.filterwarnings("ignore", module=r"PIL\.")  # "Corrupt EXIF data", "Truncated File Read"...

TIFF_EXTS = {".tif", ".tiff"}
ALPHA_EXTS = {".png", ".webp", *TIFF_EXTS}  # photo formats that keep transparency
_STRAIGHT_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La")  # Pillow's modes with an alpha channel ("a": associated)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"  # followed by the IHDR chunk, whose bit depth is byte 24 of the file
_ASSOCIATED_ALPHA, _UNASSOCIATED_ALPHA = 1, 2  # TIFF ExtraSamples values
_SPELLINGS = {".jpeg": ".jpg", ".jpe": ".jpg", ".tiff": ".tif"}  # other names of one image format


def image_format(path: Path) -> str:
    """The format a photo's name asks for, one spelling each: .jpeg and .jpe are .jpg, .tiff is .tif."""
    suffix = path.suffix.lower()
    return _SPELLINGS.get(suffix, suffix)


def _file_bytes(path: Path) -> np.ndarray:
    """The photo file's bytes, once its header is found to claim no more pixels than they could hold."""
    if not path.is_file():
        raise UserError(f"{path}: " + ("a folder, not a photo" if path.is_dir() else
                                       "not a photo file" if path.exists() else not_there(path)))
    data = np.fromfile(str(path), dtype=np.uint8)
    check_claimed_size(path, pixel_count(path) or 0, data.size)
    return data


def _decode(data: np.ndarray, flags: int, path: Path) -> np.ndarray:
    try:
        img = cv2.imdecode(data, flags) if data.size else None
    except cv2.error:  # e.g. a header claiming more pixels than OpenCV will allocate
        img = None
    if img is None:
        raise UserError(f"{path}: not a readable image")
    return img


def read_image(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, as `read_photo` reads it (so eval, training and keyframes take every photo `run`
    colours), less its transparency and at 8 bits. Raises UserError if unreadable."""
    with decoding(path):
        return to_depth(np.ascontiguousarray(_read_photo(path, with_alpha=False)[..., :3]), np.uint8)


def read_photo(path: Path) -> np.ndarray:
    """A photo as the file holds it: (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or uint16 (16-bit scans stay
    16-bit), turned upright by its EXIF orientation. Raises UserError if unreadable."""
    with decoding(path):
        return _read_photo(path)


def _read_photo(path: Path, with_alpha: bool = True) -> np.ndarray:
    """`with_alpha`: its transparency too, where it has one (read again for it: a second decode)."""
    data = _file_bytes(path)
    if path.suffix.lower() in TIFF_EXTS and (as_stored := _tiff_by_tifffile(path)) is not None:
        return as_stored
    img = _decode(data, cv2.IMREAD_COLOR | cv2.IMREAD_ANYDEPTH, path)  # upright, CMYK and palettes resolved
    if img.dtype.kind == "f":  # float TIFFs and the like; deeper or signed integers only as tifffile reads them above
        img = _to_16_bit(img)
    elif img.dtype not in (np.uint8, np.uint16):
        raise UserError(f"{path}: {img.dtype} samples are not supported in this file (8- or 16-bit, floating "
                        "point, or an uncompressed or deflated TIFF of 32-bit or signed integers)")
    rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if not with_alpha:
        return rgb
    if path.suffix.lower() in TIFF_EXTS and rgb.dtype == np.uint8:
        straight = _straight_tiff_rgba(path)
        if straight is not None and straight.shape[:2] == rgb.shape[:2]:
            return straight
    alpha = _alpha(data, path)
    if alpha is None or alpha.shape != rgb.shape[:2]:
        return rgb
    return np.dstack([rgb, alpha if alpha.dtype == rgb.dtype else to_depth(alpha, rgb.dtype.type)])


def pixel_count(path: Path) -> int | None:
    """How many pixels a photo file says it has, from its header alone (None: Pillow cannot tell), so a
    small file that decodes to a huge picture can be refused before it is decoded."""
    try:
        with decoding(path), Image.open(path) as header:
            return header.width * header.height
    except Image.DecompressionBombError as exc:  # Pillow refuses beyond twice its own limit, saying how many
        said = re.search(r"\((\d+) pixels\)", str(exc))
        return int(said[1]) if said else 2 * (Image.MAX_IMAGE_PIXELS or 0) + 1
    except PILLOW_ERRORS:
        return None


_SUFFIX_OF_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "TIFF": ".tif", "WEBP": ".webp", "BMP": ".bmp",
                     "JPEG2000": ".jp2", "PPM": ".ppm"}  # Pillow's format names -> ours
_SIGNATURES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG\r\n\x1a\n": ".png"}  # the first bytes of every such file


def pillow_format(path: Path) -> str | None:
    """Pillow's name for the format of the file's bytes (PNG, GIF, ...), whatever its name; None if it cannot tell."""
    try:
        with decoding(path), Image.open(path) as header:
            return header.format
    except PILLOW_ERRORS:
        return None


def photo_suffix(path: Path) -> str | None:
    """The extension a photo's own bytes call for (a file named by nobody, e.g. an upload), since the reader
    goes by the name for 16-bit TIFFs, transparency and pages; by its first bytes alone where Pillow cannot
    tell (a JPEG or PNG damaged just past them); None where they say nothing either."""
    suffix = _SUFFIX_OF_FORMAT.get(pillow_format(path) or "")
    if suffix is None:
        try:
            with path.open("rb") as file:
                head = file.read(8)
        except OSError:
            return None
        suffix = next((ours for signature, ours in _SIGNATURES.items() if head.startswith(signature)), None)
    return suffix


def page_count(path: Path) -> int:
    """Pages (a multi-page TIFF) or frames (an animated WebP or PNG) in a photo file; 1 where Pillow cannot tell.
    A JPEG's second image is the camera's preview (MPO), not a page."""
    if path.suffix.lower() not in {*TIFF_EXTS, ".webp", ".png"}:
        return 1
    try:
        with decoding(path), Image.open(path) as image:
            return int(getattr(image, "n_frames", 1))
    except PILLOW_ERRORS:
        return 1


def _to_16_bit(img: np.ndarray) -> np.ndarray:
    """Samples of any other kind than 8 or 16 unsigned bits (float and 32-bit scientific TIFFs, say) -> uint16:
    floats by 0-1 (half floats too, which would overflow if scaled as they are), integers by their type's range,
    negative ones black."""
    if img.dtype in (np.uint8, np.uint16):
        return img
    if img.dtype.kind == "f":
        return (np.clip(np.nan_to_num(img.astype(np.float32)), 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16)
    scaled = img.astype(np.float32)  # exact enough for 16 bits, and one copy of a big scan, not three
    np.clip(scaled, 0.0, None, out=scaled)
    scaled *= 65535.0 / float(np.iinfo(img.dtype).max)
    scaled += 0.5
    return scaled.astype(np.uint16)


def _alpha(data: np.ndarray, path: Path) -> np.ndarray | None:
    """The transparency of a photo that has one (Pillow reads the header to tell), turned as its pixels are."""
    if path.suffix.lower() not in ALPHA_EXTS:
        return None
    try:
        with Image.open(path) as header:
            key = header.info.get("transparency")  # a colour, grey level or palette entry that is see-through
            if header.mode not in (*_STRAIGHT_ALPHA_MODES, "PA") and key is None:
                return None
            orientation, mode = header.getexif().get(0x0112, 1), header.mode
    except PILLOW_ERRORS:
        return None
    raw = _decode(data, cv2.IMREAD_UNCHANGED, path)  # upright only for TIFF
    if raw.ndim == 3 and raw.shape[2] == 4:
        return raw[..., 3] if path.suffix.lower() in TIFF_EXTS else _upright(raw[..., 3], orientation)
    if raw.ndim == 2 and isinstance(key, int) and bytes(data[:8]) == _PNG_SIGNATURE:
        key_bits = 8 if mode == "1" else int(data[24])  # Pillow gives a 1-bit file's key as 0 or 255 already
        return _upright(_keyed_alpha(raw, key, key_bits), orientation)
    return None


def _keyed_alpha(grey: np.ndarray, key: int, bits: int) -> np.ndarray:
    """Alpha of a grey PNG whose tRNS chunk marks one level see-through, which OpenCV does not apply. The key
    is on the file's own scale (`bits`), the levels as OpenCV widened them to 8 or 16 bits."""
    if bits < 8:
        key = key * 255 // ((1 << bits) - 1)
    top = np.iinfo(grey.dtype).max
    return np.where(grey == key, 0, top).astype(grey.dtype)


def _tiff_by_tifffile(path: Path) -> np.ndarray | None:
    """A TIFF that OpenCV reads wrongly, read as stored and turned upright here: one with transparency
    (OpenCV goes through libtiff's RGBA interface, which premultiplies 8-bit colours, loses a grey cutout's
    alpha and 16-bit grey+alpha's depth, and garbles EXIF orientations 5-8), a one-channel float one
    (refused), or one of 32-bit or signed integers (refused, or read with their sign or depth wrong). None for
    any other TIFF, or one tifffile cannot decode on its own (LZW and JPEG need imagecodecs) or make sense of,
    which the other readers then take."""
    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            grey = page.photometric == tifffile.PHOTOMETRIC.MINISBLACK
            extras = [int(e) for e in page.extrasamples]
            alpha = extras[:1] in ([_ASSOCIATED_ALPHA], [_UNASSOCIATED_ALPHA])
            kind = page.dtype.kind if page.dtype is not None else ""
            odd = kind in "iu" and page.dtype not in (np.uint8, np.uint16)  # 32-bit or signed: OpenCV mangles them
            if not (grey or page.photometric == tifffile.PHOTOMETRIC.RGB) or page.axes not in ("YX", "YXS", "SYX") \
                    or not (alpha and page.dtype in (np.uint8, np.uint16) or kind == "f" and (alpha or grey) or odd):
                return None
            samples = page.asarray()
            orientation, axes = int(page.tags.valueof(0x0112, 1)), page.axes
    except Exception:  # noqa: BLE001 -- whatever tifffile cannot make sense of goes to the other readers
        return None
    if samples.ndim != len(axes) or not samples.size:
        return None
    samples = np.moveaxis(samples, 0, -1) if axes == "SYX" else samples  # planar: one plane per sample
    samples = samples.reshape(*samples.shape[:2], -1)
    colors = 1 if grey else 3
    if samples.shape[-1] < colors + alpha:
        return None
    samples = _to_16_bit(samples)
    pixels = samples[..., :colors]
    if alpha:
        see = samples[..., colors:colors + 1]
        if extras[0] == _ASSOCIATED_ALPHA:  # colours stored multiplied by alpha: divide it out
            top = np.iinfo(samples.dtype).max
            pixels = np.clip(np.round(pixels * (top / np.maximum(see, 1))), 0, top).astype(samples.dtype)
        pixels = np.concatenate([np.repeat(pixels, 3 // colors, axis=-1), see], axis=-1)
    else:
        pixels = np.repeat(pixels, 3 // colors, axis=-1)
    return _upright(pixels, orientation)


def _straight_tiff_rgba(path: Path) -> np.ndarray | None:
    """An 8-bit TIFF with transparency (colour or grey) that tifffile could not decode, upright, colours as
    stored; None if it has none or Pillow cannot decode it. OpenCV reads these through libtiff's RGBA
    interface, which multiplies the colours by alpha (a half-transparent white comes back mid-grey), and
    drops a grey cutout's alpha."""
    try:
        with Image.open(path) as tiff:
            if tiff.mode not in _STRAIGHT_ALPHA_MODES:
                return None
            if tiff.getexif().get(0x0112, 1) > 4:  # libtiff turns the pixels for 1-4 only; these stay with OpenCV
                return None
            return np.array(tiff.convert("RGBA"))  # upright; associated alpha is divided out
    except PILLOW_ERRORS:
        return None


def _upright(plane: np.ndarray, orientation: int) -> np.ndarray:
    """`plane` turned as EXIF `orientation` (1-8) says a viewer shows it."""
    turned = {2: np.fliplr, 3: lambda x: np.rot90(x, 2), 4: np.flipud, 5: lambda x: np.swapaxes(x, 0, 1),
              6: lambda x: np.rot90(x, -1), 7: lambda x: np.rot90(np.flipud(x), 1), 8: lambda x: np.rot90(x, 1)}
    return np.ascontiguousarray(turned.get(orientation, lambda x: x)(plane))


def to_depth(img: np.ndarray, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """Integer pixels at another bit depth, white kept white (65535 <-> 255), rounded."""
    if img.dtype == dtype:
        return img
    if img.dtype == np.uint16 and dtype == np.uint8:  # the same numbers, without a float copy of a big scan
        return cv2.convertScaleAbs(img, alpha=255 / 65535)
    scale = np.iinfo(dtype).max / np.iinfo(img.dtype).max
    return (img.astype(np.float64) * scale + 0.5).astype(dtype)


def shrunk(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """The picture scaled down (by area, as a smaller picture would have been taken) so its longer side is at
    most `long_side`; as it is when it already fits."""
    h, w = rgb.shape[:2]
    scale = min(1.0, long_side / max(h, w))
    if scale == 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
