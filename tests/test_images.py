"""The one image reader: formats, EXIF orientation, and a clear error for every bad file."""

import cv2
import numpy as np
import pytest
from PIL import Image

from poseclf.errors import ImageReadError, PoseclfError
from poseclf.images import is_image_path, read_image


@pytest.fixture()
def rgb():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)
    image[:5, :5] = (255, 0, 0)  # a red corner to check channel order and orientation
    return image


def test_png_reads_back_as_rgb(tmp_path, rgb):
    path = tmp_path / "a.png"
    Image.fromarray(rgb).save(path)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "I;16"])
def test_every_pixel_format_becomes_rgb_uint8(tmp_path, rgb, mode):
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    if mode == "I;16":
        Image.fromarray(rgb[:, :, 0].astype(np.uint16) * 257).save(path)
    else:
        Image.fromarray(rgb).convert(mode).save(path)
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)
    if mode in ("L", "LA", "I;16"):
        assert np.array_equal(out[..., 0], out[..., 1])  # gray replicated into 3 channels
    if mode == "I;16":
        np.testing.assert_array_equal(out[..., 0], rgb[:, :, 0])


def test_non_ascii_file_name(tmp_path, rgb):
    path = tmp_path / "поза_树_é.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    assert read_image(path).shape == (30, 40, 3)


@pytest.mark.parametrize("orientation, expected_shape", [(1, (30, 40, 3)), (3, (30, 40, 3)),
                                                          (6, (40, 30, 3)), (8, (40, 30, 3))])
def test_exif_orientation_is_applied(tmp_path, rgb, orientation, expected_shape):
    path = tmp_path / f"o{orientation}.jpg"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, exif=exif, quality=100)
    out = read_image(path)
    assert out.shape == expected_shape
    upright = {1: rgb, 3: np.rot90(rgb, 2), 6: np.rot90(rgb, -1), 8: np.rot90(rgb, 1)}[orientation]
    # the red corner lands where the viewer shows it (JPEG noise aside)
    red = np.unravel_index(np.argmax(out[..., 0].astype(int) - out[..., 1]), out.shape[:2])
    red_expected = np.unravel_index(
        np.argmax(upright[..., 0].astype(int) - upright[..., 1]), upright.shape[:2]
    )
    assert abs(red[0] - red_expected[0]) <= 5 and abs(red[1] - red_expected[1]) <= 5


def _bad_files(tmp_path):
    good = cv2.imencode(".jpg", np.full((50, 50, 3), 128, np.uint8))[1].tobytes()
    png = cv2.imencode(".png", np.full((50, 50, 3), 128, np.uint8))[1].tobytes()
    files = {
        "empty.jpg": b"",
        "text.jpg": b"this is not an image\n",
        "truncated.jpg": good[: len(good) // 2],
        "truncated.png": png[: len(png) - 20],
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return list(files)


@pytest.mark.parametrize("name, reason", [
    ("missing.jpg", "no such file"),
    ("empty.jpg", "empty"),
    ("text.jpg", "not a readable image"),
    ("truncated.jpg", "truncated|not a readable image"),
    ("truncated.png", "truncated|not a readable image"),
    ("folder", "folder"),
])
def test_bad_files_raise_one_error_type_naming_the_file(tmp_path, name, reason):
    _bad_files(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageReadError, match=reason) as info:
        read_image(tmp_path / name)
    assert name in str(info.value)
    assert isinstance(info.value, PoseclfError)


@pytest.mark.parametrize("name, expected", [("a.JPG", True), ("b.jpeg", True), ("c.Png", True),
                                            (".hidden.jpg", False), ("notes.txt", False)])
def test_image_paths_are_recognised_case_insensitively(name, expected):
    assert is_image_path(name) is expected
