"""A photo's EXIF and ICC profile, carried into its colour version (JPEG and PNG outputs).

Archives keep dates, captions and copyright in EXIF, and OpenCV, which writes our pixels, drops
it. So the metadata is read with Pillow and spliced into the encoded file's bytes, with no second
encoding. The EXIF orientation becomes 1 (upright), since the pixels were turned upright on reading.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..utils.guard import decoding

_ORIENTATION = 0x0112
# A TIFF's own first IFD is its EXIF to Pillow, so it holds tags that lay out that file's pixels (size, strips,
# compression, sample format; ICC, carried apart): wrong for our file, and their offsets can overflow a JPEG
# segment. Photoshop's layer data goes too. Captions, dates, credits, resolution and the EXIF IFD stay.
_LAYOUT_TAGS = frozenset({
    0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x010A, 0x0111, 0x0115, 0x0116, 0x0117,
    0x0118, 0x0119, 0x011C, 0x0122, 0x0123, 0x0124, 0x0125, 0x013D, 0x0140, 0x0141, 0x0142, 0x0143, 0x0144,
    0x0145, 0x014A, 0x0152, 0x0153, 0x0154, 0x0155, 0x015B, 0x0200, 0x0201, 0x0202, 0x0211, 0x0212, 0x0213,
    0x0120, 0x0121, 0x0203, 0x0205, 0x0206, 0x0207, 0x0208, 0x0209, 0x0214, 0x8773, 0x935C,
    0x8649, 0x83BB,  # Photoshop resources and IPTC as TIFF stores them: often too big, or mangled by Pillow
})
_JPEG_SEGMENT_MAX = 65533  # payload bytes an APPn segment can hold
_ICC_CHUNK = _JPEG_SEGMENT_MAX - 14  # less "ICC_PROFILE\0" and the chunk's number and count


# What Pillow raises for a file it cannot read, or will not (a decompression bomb: OpenCV reads the pixels)
PILLOW_ERRORS = (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError)


@dataclass(frozen=True)
class PhotoMetadata:
    exif: bytes | None  # "Exif\0\0" + the TIFF-structured block, as in a JPEG's APP1 segment
    icc: bytes | None


def read_metadata(path: Path) -> PhotoMetadata:
    """The photo's EXIF (orientation reset to upright) and RGB ICC profile (a grey or CMYK one would not
    describe our RGB output); empty where it has none or Pillow cannot read the file."""
    try:
        with decoding(path), Image.open(path) as image:
            exif = image.getexif()
            icc = image.info.get("icc_profile") or None
    except PILLOW_ERRORS:
        return PhotoMetadata(None, None)
    for tag in _LAYOUT_TAGS.intersection(exif):
        del exif[tag]
    if _ORIENTATION in exif:
        exif[_ORIENTATION] = 1
    rgb_icc = icc if icc and icc[16:20] == b"RGB " else None  # the header's colour space signature
    exif.bigtiff = False  # a BigTIFF scan's tags still go out in the classic layout that EXIF readers expect
    return PhotoMetadata(exif.tobytes() if len(exif) else None, rgb_icc)


def with_metadata(encoded: bytes, suffix: str, metadata: PhotoMetadata) -> bytes:
    """`encoded` (a whole .jpg or .png file) with the metadata spliced in; other formats as they are."""
    if suffix in (".jpg", ".jpeg", ".jpe") and encoded[:2] == b"\xff\xd8":
        return encoded[:2] + _jpeg_segments(metadata) + encoded[2:]
    if suffix == ".png" and encoded[:8] == b"\x89PNG\r\n\x1a\n":
        after_header = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
        return encoded[:after_header] + _png_chunks(metadata) + encoded[after_header:]
    return encoded


def _jpeg_segments(metadata: PhotoMetadata) -> bytes:
    segments = []
    if metadata.exif and len(metadata.exif) <= _JPEG_SEGMENT_MAX:
        segments.append(_jpeg_segment(0xE1, metadata.exif))
    if metadata.icc:
        chunks = [metadata.icc[i:i + _ICC_CHUNK] for i in range(0, len(metadata.icc), _ICC_CHUNK)]
        if len(chunks) < 256:
            segments += [_jpeg_segment(0xE2, b"ICC_PROFILE\0" + bytes([n, len(chunks)]) + chunk)
                         for n, chunk in enumerate(chunks, start=1)]
    return b"".join(segments)


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _png_chunks(metadata: PhotoMetadata) -> bytes:
    chunks = b""
    if metadata.icc:
        chunks += _png_chunk(b"iCCP", b"ICC profile\0\0" + zlib.compress(metadata.icc))
    if metadata.exif:
        chunks += _png_chunk(b"eXIf", metadata.exif.removeprefix(b"Exif\0\0"))
    return chunks


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
