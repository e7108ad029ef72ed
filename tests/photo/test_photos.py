"""`vidcolor run photo -o out`, told as what a restorer with scans sees: deep scans stay deep,
transparency stays, a photo already in colour is named, and a bad output name is refused in one
line before any work. Photos are generated on the fly; the tiny untrained model colours them.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers.photos import landscape
from PIL import Image

from vidcolor import colorize
from vidcolor.cli import main
from vidcolor.photo.read import read_photo
from vidcolor.photo.write import write_image
from vidcolor.runtime.color import fit_to_gamut, from_int_images, lab_to_rgb, rgb_to_l


def grey_scan(h: int = 40, w: int = 56) -> np.ndarray:
    """A 16-bit grey scan with detail below 8 bits (a smooth ramp plus fine grain)."""
    ramp = np.linspace(2000, 60000, h * w).reshape(h, w) + np.random.default_rng(0).integers(0, 200, (h, w))
    return np.repeat(ramp.astype(np.uint16)[..., None], 3, axis=2)


def run(*args: object) -> object:
    return CliRunner().invoke(main, ["run", *map(str, args)])


def L_of(image: np.ndarray) -> torch.Tensor:
    return rgb_to_l(from_int_images(image[None, ..., :3]))


def test_a_16_bit_scan_comes_back_16_bit_with_its_lightness_to_the_last_bit(model_file, tmp_path):
    scan = tmp_path / "scan.tif"
    cv2.imwrite(str(scan), grey_scan())
    assert run(scan, "-o", tmp_path / "colour.tif", "--model", model_file).exit_code == 0
    colored = read_photo(tmp_path / "colour.tif")
    assert colored.dtype == np.uint16 and colored.shape == (40, 56, 3)
    assert (L_of(colored) - L_of(read_photo(scan))).abs().max() < 0.02  # 8 bits would be off by ~0.2

    assert run(scan, "-o", tmp_path / "access.jpg", "--model", model_file).exit_code == 0
    assert read_photo(tmp_path / "access.jpg").dtype == np.uint8  # JPEG holds 8 bits


def test_transparency_is_kept_where_the_format_holds_it_and_its_loss_named_where_not(model_file, tmp_path):
    logo = tmp_path / "cutout.png"
    grey = landscape(1).mean(axis=2, keepdims=True).astype(np.uint8)
    alpha = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (48, 1))[..., None]
    write_image(logo, np.concatenate([grey, grey, grey, alpha], axis=2))
    for name, channels in (("out.png", 4), ("out.jpg", 3)):
        result = run(logo, "-o", tmp_path / name, "--model", model_file)
        assert result.exit_code == 0
        assert ("out.jpg cannot hold the photo's transparency" in result.stderr) == (name == "out.jpg")
        out = read_photo(tmp_path / name)
        assert out.shape == (48, 64, channels)
    assert (read_photo(tmp_path / "out.png")[..., 3] == alpha[..., 0]).all()


def test_a_photo_already_in_color_is_named_and_kept_with_skip_color(model_file, tmp_path):
    photo = tmp_path / "colour.png"
    write_image(photo, landscape(2))
    recolored = run(photo, "-o", tmp_path / "again.png", "--model", model_file)
    assert recolored.exit_code == 0 and "already in colour; colouring it again" in recolored.stderr
    kept = run(photo, "-o", tmp_path / "kept.png", "--model", model_file, "--skip-color")
    assert kept.exit_code == 0 and "keeping its colours" in kept.stderr
    assert (tmp_path / "kept.png").read_bytes() == photo.read_bytes()  # the very file
    write_image(tmp_path / "colour.jpg", landscape(2))
    kept = run(tmp_path / "colour.jpg", "-o", tmp_path / "kept.jpeg", "--model", model_file, "--skip-color")
    assert kept.exit_code == 0
    assert (tmp_path / "kept.jpeg").read_bytes() == (tmp_path / "colour.jpg").read_bytes()  # one format, two spellings


@pytest.mark.parametrize(("output", "expected"), [
    ("no_extension", "cannot write a photo with this name"),
    ("notes.txt", "cannot write a photo with this name"),
    ("film.mp4", "cannot write a photo with this name"),
    (".", "is a folder"),
])
def test_an_output_no_photo_format_fits_is_refused_in_one_line(model_file, tmp_path, output, expected):
    photo = tmp_path / "grey.png"
    write_image(photo, np.full((8, 8, 3), 128, np.uint8))
    result = run(photo, "-o", tmp_path / output, "--model", model_file, "--overwrite")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr


def test_a_name_at_the_file_system_limit_is_still_written(model_file, tmp_path):
    photo = tmp_path / "grey.png"
    write_image(photo, np.full((8, 8, 3), 128, np.uint8))
    long_name = "x" * 251 + ".png"  # 255 bytes: the temporary name beside it must be shorter
    assert run(photo, "-o", tmp_path / long_name, "--model", model_file).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.png", long_name]


def test_vivid_colors_are_fitted_into_rgb_so_lightness_is_kept():
    L = torch.linspace(5, 95, 40).view(1, 1, 1, 40).expand(1, 1, 30, 40)
    ab = torch.stack(torch.meshgrid(torch.linspace(-110, 110, 30), torch.linspace(110, -110, 40), indexing="ij"))[None]
    clipped = rgb_to_l(lab_to_rgb(torch.cat([L, ab], dim=1)))
    fitted_ab = fit_to_gamut(L, ab)
    fitted = rgb_to_l(lab_to_rgb(torch.cat([L, fitted_ab], dim=1)))
    assert (clipped - L).abs().max() > 5  # clipping R, G, B shifts lightness
    assert (fitted - L).abs().max() < 0.01
    assert (fitted_ab.norm(dim=1) <= ab.norm(dim=1) + 1e-4).all()  # only ever less colour, never more
    hue = torch.atan2(ab[:, 1], ab[:, 0])
    kept = fitted_ab.norm(dim=1) > 1
    assert torch.allclose(torch.atan2(fitted_ab[:, 1], fitted_ab[:, 0])[kept], hue[kept], atol=1e-3)


def test_the_working_size_must_be_one_a_model_can_work_at(model_file, tmp_path):
    photo = tmp_path / "grey.png"
    write_image(photo, np.full((8, 8, 3), 128, np.uint8))
    for size in ("0", "-5"):
        assert run(photo, "-o", tmp_path / "out.png", "--model", model_file, "--working-size", size).exit_code == 2
    assert not Path(tmp_path / "out.png").exists()


@pytest.mark.parametrize("option", [["--split", "2"], ["--ray", "local"], ["--include", "*.png"]])
def test_options_for_films_or_folders_are_refused_for_a_single_photo(model_file, tmp_path, option):
    photo = tmp_path / "grey.png"
    write_image(photo, np.full((8, 8, 3), 128, np.uint8))
    result = run(photo, "-o", tmp_path / "out.png", "--model", model_file, *option)
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_a_script_giving_a_photo_film_options_is_told_they_did_nothing(model_file, tmp_path):
    """A script colours each file of a list with one set of options, films' encoding among them."""
    write_image(tmp_path / "scan.png", landscape(1))
    told: list[str] = []
    colorize(tmp_path / "scan.png", tmp_path / "out.png", model=model_file, crf=3, window=8, codec="ffv1",
             warn=told.append)
    assert told == [f"--crf, --codec are for films; {tmp_path / 'scan.png'} is a photo, coloured without them"]
    assert (tmp_path / "out.png").exists()


@pytest.mark.parametrize("output", ["out.jpg", "out.png"])
def test_a_photo_keeps_its_caption_date_and_color_profile_and_stays_upright(model_file, tmp_path, output):
    from PIL import Image, ImageCms

    scan = tmp_path / "wedding.jpg"
    exif = Image.Exif()
    exif[0x010E], exif[0x0132], exif[0x0112] = "Wedding, 1952", "1952:06:01 12:00:00", 6  # 6: turn 90° to view
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(np.repeat(landscape(4, 40, 56).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)).save(
        scan, exif=exif, icc_profile=srgb)
    assert run(scan, "-o", tmp_path / output, "--model", model_file).exit_code == 0
    with Image.open(tmp_path / output) as colored:
        tags = colored.getexif()
        assert colored.size == (40, 56)  # turned upright, as a viewer shows the scan
        assert (tags[0x010E], tags[0x0132], tags[0x0112]) == ("Wedding, 1952", "1952:06:01 12:00:00", 1)
        assert colored.info["icc_profile"] == srgb


def test_a_sepia_print_is_black_and_white_to_us_and_is_colored_without_a_warning(model_file, tmp_path):
    grey = landscape(5, 48, 64).mean(axis=2) / 255.0
    sepia = np.clip(np.stack([grey * 1.07 + 0.05, grey * 0.95 + 0.02, grey * 0.74], axis=-1), 0, 1)
    print_ = tmp_path / "toned.png"
    write_image(print_, (sepia * 255).astype(np.uint8))
    result = run(print_, "-o", tmp_path / "out.png", "--model", model_file, "--skip-color")
    assert result.exit_code == 0 and result.stderr.startswith("1 photo in ") and len(result.stderr.splitlines()) == 1
    assert not (read_photo(tmp_path / "out.png") == read_photo(print_)).all()  # coloured, not kept


def test_a_color_photo_ruled_by_one_hue_is_still_color_and_kept_with_skip_color(model_file, tmp_path):
    from PIL import Image
    from skimage import data  # a rocket at night: orange lamps on a dark blue-grey scene

    night = tmp_path / "launch.jpg"
    Image.fromarray(data.rocket()).resize((480, 320)).save(night, quality=95)
    kept = run(night, "-o", tmp_path / "kept.jpg", "--model", model_file, "--skip-color")
    assert kept.exit_code == 0 and "keeping its colours" in kept.stderr
    assert (tmp_path / "kept.jpg").read_bytes() == night.read_bytes()


@pytest.mark.parametrize("orientation", [3, 6])
def test_transparency_is_turned_upright_with_the_picture(model_file, tmp_path, orientation):
    from PIL import Image, ImageOps

    picture = np.zeros((30, 50, 4), np.uint8)
    picture[..., 3] = 60
    picture[:5, :10] = 250  # a bright, nearly opaque corner: it must stay where the picture's corner goes
    exif = Image.Exif()
    exif[0x0112] = orientation
    scan = tmp_path / "cutout.webp"
    Image.fromarray(picture, "RGBA").save(scan, exif=exif, lossless=True)
    assert run(scan, "-o", tmp_path / "out.png", "--model", model_file).exit_code == 0
    upright = np.asarray(ImageOps.exif_transpose(Image.open(scan)))
    out = read_photo(tmp_path / "out.png")
    assert out.shape == upright.shape
    assert (out[..., 3] == upright[..., 3]).all()


def test_a_half_transparent_tiff_keeps_its_lightness_and_its_alpha_is_tagged(model_file, tmp_path):
    from PIL import Image

    cutout = np.zeros((40, 56, 4), np.uint8)
    cutout[..., :3] = landscape(6, 40, 56).mean(axis=2, keepdims=True).astype(np.uint8)
    cutout[..., 3] = 128  # half transparent: a reader that multiplies colour by alpha halves the lightness
    Image.fromarray(cutout, "RGBA").save(tmp_path / "cutout.tif")
    assert run(tmp_path / "cutout.tif", "-o", tmp_path / "out.tif", "--model", model_file).exit_code == 0
    out = read_photo(tmp_path / "out.tif")
    assert (out[..., 3] == 128).all()
    assert (L_of(out) - L_of(cutout)).abs().max() < 1.0
    with Image.open(tmp_path / "out.tif") as written:
        assert written.tag_v2[0x0152] == (2,)  # ExtraSamples: unassociated alpha


def test_a_tiff_scans_caption_reaches_its_jpeg_without_the_tiffs_own_layout(model_file, tmp_path):
    from PIL import Image

    tags = Image.Exif()
    tags[0x010E], tags[0x013B], tags[0x8298] = "Harbour, 1931", "J. Smith", "City Archive"
    grey = np.repeat(landscape(7, 40, 56).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "harbour.tif", exif=tags, compression="tiff_lzw")
    assert run(tmp_path / "harbour.tif", "-o", tmp_path / "harbour.jpg", "--model", model_file).exit_code == 0
    with Image.open(tmp_path / "harbour.jpg") as colored:
        carried = colored.getexif()
    assert (carried[0x010E], carried[0x013B], carried[0x8298]) == ("Harbour, 1931", "J. Smith", "City Archive")
    assert not {0x0100, 0x0102, 0x0103, 0x0111, 0x0117} & set(carried)  # width, bits, compression, strips


@pytest.mark.parametrize("orientation", [1, 6, 7])
@pytest.mark.parametrize("depth", [np.uint8, np.uint16])
def test_a_grey_cutout_tiff_keeps_its_depth_lightness_and_alpha_however_it_is_turned(model_file, tmp_path,
                                                                                   orientation, depth):
    """Grey + alpha as scanners and layout programs write it, half transparent, tagged to be shown turned."""
    import tifffile

    top = np.iinfo(depth).max
    grey = (landscape(8, 40, 56).mean(axis=2) / 255 * top).astype(depth)
    alpha = np.full_like(grey, top // 2 + 1)
    tifffile.imwrite(tmp_path / "cutout.tif", np.dstack([grey, alpha]), photometric="minisblack",
                     extrasamples=["unassalpha"], extratags=[(0x0112, "H", 1, orientation, False)])
    assert run(tmp_path / "cutout.tif", "-o", tmp_path / "out.tif", "--model", model_file).exit_code == 0
    out = read_photo(tmp_path / "out.tif")
    upright = {1: grey, 6: np.rot90(grey, -1), 7: np.rot90(np.flipud(grey), 1)}[orientation]
    assert out.dtype == depth and out.shape == (*upright.shape, 4)
    assert (out[..., 3] == top // 2 + 1).all()
    assert (L_of(out) - L_of(np.repeat(upright[..., None], 3, axis=2))).abs().max() < 1.0  # not darkened by alpha


@pytest.mark.parametrize("bits", [2, 8, 16])
def test_a_grey_png_with_one_level_marked_transparent_stays_transparent(model_file, tmp_path, bits):
    from PIL import Image

    top = (1 << bits) - 1
    levels = np.round(landscape(9, 40, 56).mean(axis=2) / 255 * top).astype(np.uint16 if bits == 16 else np.uint8)
    levels[:10, :10] = 1  # the see-through corner: level 1 on the file's own scale
    picture = Image.fromarray(levels if bits > 2 else (levels * (255 // top)).astype(np.uint8))
    picture.save(tmp_path / "keyed.png", transparency=1, **({"bits": bits} if bits < 8 else {}))
    assert run(tmp_path / "keyed.png", "-o", tmp_path / "out.png", "--model", model_file).exit_code == 0
    see_through = read_photo(tmp_path / "out.png")[..., 3] == 0
    assert see_through[:10, :10].all() and see_through.sum() == (levels == 1).sum()


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_a_floating_point_grey_scan_is_read_as_16_bit(model_file, tmp_path, dtype):
    import tifffile

    scan = np.linspace(0.0, 1.0, 40 * 56).reshape(40, 56).astype(dtype)
    tifffile.imwrite(tmp_path / "scan.tif", scan, photometric="minisblack")
    assert run(tmp_path / "scan.tif", "-o", tmp_path / "out.png", "--model", model_file).exit_code == 0
    out = read_photo(tmp_path / "out.png")
    assert out.dtype == np.uint16 and out.shape == (40, 56, 3)
    expected = np.repeat(scan[..., None].astype(np.float32) * 65535.0 + 0.5, 3, axis=2).astype(np.uint16)
    assert (L_of(out) - L_of(expected)).abs().max() < 1.0  # half floats overflow if scaled as they are


@pytest.mark.parametrize("dtype", [np.uint32, np.int32, np.int16])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_scientific_scan_of_32_bit_or_signed_integers_is_read_by_its_range(model_file, tmp_path, dtype, channels):
    import tifffile

    top = np.iinfo(dtype).max
    scan = np.linspace(0, top, 40 * 56).reshape(40, 56).astype(dtype)
    tifffile.imwrite(tmp_path / "scan.tif", np.dstack([scan] * channels).squeeze(),
                     photometric="rgb" if channels == 3 else "minisblack")
    assert run(tmp_path / "scan.tif", "-o", tmp_path / "out.png", "--model", model_file).exit_code == 0
    out = read_photo(tmp_path / "out.png")
    assert out.dtype == np.uint16 and out.shape == (40, 56, 3)
    expected = np.repeat(scan[..., None] / top * 65535.0 + 0.5, 3, axis=2).astype(np.uint16)
    assert (L_of(out) - L_of(expected)).abs().max() < 1.0


def test_a_signed_scan_stored_white_is_zero_is_refused_rather_than_coloured_as_its_negative(model_file, tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "scan.tif", np.zeros((40, 56), np.int16), photometric="miniswhite")
    result = run(tmp_path / "scan.tif", "-o", tmp_path / "out.png", "--model", model_file)
    assert result.exit_code == 1 and "int16 samples are not supported in this file" in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_only_the_first_page_of_a_multi_page_tiff_is_colored_and_the_user_is_told(model_file, tmp_path):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "pages.tif") as pages:
        for seed in (1, 2, 3):
            pages.write(landscape(seed, 40, 56).mean(axis=2).astype(np.uint8), photometric="minisblack")
    result = run(tmp_path / "pages.tif", "-o", tmp_path / "out.png", "--model", model_file)
    assert result.exit_code == 0
    assert "pages.tif holds 3 pages or frames; only the first is coloured" in result.stderr


def test_only_the_first_frame_of_an_animated_png_is_colored_and_the_user_is_told(model_file, tmp_path):
    """An animated PNG once lost its other frames without a word, though a WebP's and a TIFF's were told."""
    frames = [Image.fromarray(landscape(seed, 40, 56).mean(axis=2).astype(np.uint8)) for seed in (1, 2, 3, 4)]
    frames[0].save(tmp_path / "spin.png", save_all=True, append_images=frames[1:], duration=100)
    result = run(tmp_path / "spin.png", "-o", tmp_path / "out.png", "--model", model_file)
    assert result.exit_code == 0
    assert "spin.png holds 4 pages or frames; only the first is coloured" in result.stderr


def test_an_output_that_cannot_be_written_is_one_line_and_leaves_nothing(model_file, tmp_path):
    photo = tmp_path / "photo.png"
    write_image(photo, np.repeat(landscape(1, 40, 56).mean(axis=2, keepdims=True), 3, axis=2).astype(np.uint8))
    result = run(photo, "-o", tmp_path / ("n" * 300 + ".png"), "--model", model_file)
    assert result.exit_code == 1 and "File name too long" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]


def test_a_scan_of_32_bit_integers_is_read_for_eval_training_and_keyframes_as_run_reads_it(model_file, tmp_path):
    """Eval, training and keyframes read photos with a reader of their own, which took 32-bit TIFFs for
    damaged ones."""
    import tifffile

    from vidcolor.photo.read import read_image

    scan = np.linspace(0, np.iinfo(np.uint32).max, 40 * 56 * 3).reshape(40, 56, 3).astype(np.uint32)
    tifffile.imwrite(tmp_path / "scan.tif", scan, photometric="rgb")
    expected = (scan / np.iinfo(np.uint32).max * 255 + 0.5).astype(np.uint8)
    assert np.abs(read_image(tmp_path / "scan.tif").astype(int) - expected).max() <= 1
