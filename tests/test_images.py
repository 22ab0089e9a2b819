"""The one image reader: formats, EXIF orientation, and a clear error for every bad file."""

import os
import socket
import struct
import threading
import time
import warnings
import zlib

import cv2
import numpy as np
import pytest
from conftest import shared_data_or_skip
from image_files import PNG_SIGNATURE, blank_png, bmp_header, png_chunk
from PIL import Image

from poseclf.errors import ImageReadError, InputError, PoseclfError
from poseclf.pose import images
from poseclf.pose.image_headers import read_header
from poseclf.pose.image_paths import is_image_path, output_paths, unique_names
from poseclf.pose.images import MAX_FILE_BYTES, MAX_PIXELS, read_image


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


# -- header first: huge images are refused before decoding, truncation is judged right ---------
@pytest.mark.parametrize("side", [20000, 33000])  # Pillow's bomb error; OpenCV's pixel limit
def test_huge_png_is_refused_from_its_header_naming_size_and_fix(tmp_path, side):
    path = tmp_path / f"huge{side}.png"
    path.write_bytes(blank_png(side, side))  # valid and ~100 kB: compressed zeros
    start = time.perf_counter()
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert time.perf_counter() - start < 1.0  # the header is read, the pixels are not
    message = str(info.value)
    assert message.startswith(f"{path}: {side}x{side} pixels")
    assert f"{MAX_PIXELS / 1e6:.0f} megapixels at most" in message and "downscale" in message


def test_images_up_to_the_limit_are_read_without_pillow_warning(tmp_path):
    path = tmp_path / "wide.png"
    path.write_bytes(blank_png(2000, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_image(path).shape == (3, 2000, 3)
    # 150 MP: over our limit, between Pillow's warning (89 MP) and its error (179 MP)
    bmp = tmp_path / "big.bmp"
    bmp.write_bytes(bmp_header(15000, 10000))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageReadError, match=r"15000x10000 pixels \(150 megapixels\)"):
            read_image(bmp)


def test_pillow_decompression_bomb_error_becomes_an_image_read_error(tmp_path):
    bmp = tmp_path / "bomb.bmp"  # a format Pillow reads the header of: its own 179-MP limit
    bmp.write_bytes(bmp_header(20000, 20000))
    with pytest.raises(ImageReadError, match="bomb.bmp: .*downscale"):
        read_image(bmp)


def test_image_without_pixels_is_refused(tmp_path):
    path = tmp_path / "zero.png"
    header = struct.pack(">IIBBBBB", 0, 0, 8, 2, 0, 0, 0)
    path.write_bytes(PNG_SIGNATURE + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", zlib.compress(b"")) + png_chunk(b"IEND", b""))
    with pytest.raises(ImageReadError, match=r"zero.png: the image has no pixels \(0x0\)"):
        read_image(path)


@pytest.fixture(scope="module")
def real_photo():
    return shared_data_or_skip("yoga_marchenkova", "warrior2", "File12.jpg")


def test_motion_photo_with_a_video_after_the_jpeg_is_read(tmp_path, real_photo):
    """Phones append an MP4 after the JPEG's end: the photo is complete, not truncated."""
    video = shared_data_or_skip("videos", "sit.mp4").read_bytes()[:200_000]
    path = tmp_path / "PXL_motion.MP.jpg"
    path.write_bytes(real_photo.read_bytes() + video)
    np.testing.assert_array_equal(read_image(path), read_image(real_photo))


def test_png_with_bytes_after_iend_is_read(tmp_path, rgb):
    path = tmp_path / "trailing.png"
    path.write_bytes(cv2.imencode(".png", rgb)[1].tobytes() + bytes(2000))
    assert read_image(path).shape == (30, 40, 3)


def test_truncated_photo_is_caught_even_with_an_end_marker_in_its_header(tmp_path, real_photo):
    """An EOI inside a header segment (an EXIF thumbnail, a comment) does not end the photo."""
    data = real_photo.read_bytes()
    thumbnail = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))[1].tobytes()
    comment = b"\xff\xfe" + struct.pack(">H", len(thumbnail) + 2) + thumbnail
    with_thumbnail = data[:2] + comment + data[2:]
    (tmp_path / "whole.jpg").write_bytes(with_thumbnail)
    np.testing.assert_array_equal(read_image(tmp_path / "whole.jpg"), read_image(real_photo))
    # cut 200 bytes into the scan: the thumbnail's EOI is in the last 1024 bytes of the file,
    # where the old check looked for it
    cut_at = with_thumbnail.index(b"\xff\xda", 2 + len(comment)) + 200
    assert b"\xff\xd9" in with_thumbnail[:cut_at][-1024:]
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(with_thumbnail[:cut_at])
    with pytest.raises(ImageReadError, match="cut.jpg: the image data is truncated"):
        read_image(cut)
    half = tmp_path / "half.jpg"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="half.jpg: the image data is truncated"):
        read_image(half)


def test_every_shared_photo_header_agrees_with_the_decoded_image(real_photo):
    """Header size and truncation on real photos (JPEG and PNG) of the development set."""
    root = real_photo.parents[2]
    photos = sorted(p for p in root.rglob("*") if is_image_path(p))[::10]
    photos += sorted(root.rglob("*.png"))[:5]
    for photo in photos:
        header = read_header(photo.read_bytes())
        image = cv2.imdecode(np.fromfile(photo, np.uint8), cv2.IMREAD_UNCHANGED)
        assert not header.truncated, photo
        assert header.size == (image.shape[1], image.shape[0]), photo


# -- only regular files are read ----------------------------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    outcome = []

    def read():
        try:
            read_image(fifo)
        except ImageReadError as err:
            outcome.append(str(err))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # it blocked waiting for a writer: release it, then fail
        with open(fifo, "wb"):
            pass
        thread.join(5)
        pytest.fail("read_image blocked on a FIFO")
    assert outcome and "fifo.jpg: not a regular file" in outcome[0]
    assert "give an image file saved on disk" in outcome[0]


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_device_is_refused_before_reading(device):
    if not os.path.exists(device):
        pytest.skip(f"no {device} here")
    with pytest.raises(ImageReadError, match=f"{device}: not a regular file"):
        read_image(device)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets on this system")
def test_socket_is_refused(tmp_path):
    path = tmp_path / "s.jpg"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(ImageReadError, match="s.jpg: not a regular file"):
            read_image(path)


def test_unreadable_file_says_how_to_fix_it(tmp_path, rgb, monkeypatch):
    path = tmp_path / "locked.png"
    Image.fromarray(rgb).save(path)
    if os.geteuid() != 0:  # root reads anything: simulate the refusal below instead
        path.chmod(0)
        with pytest.raises(ImageReadError, match=r"locked.png: permission denied; make it "
                           r"readable \(chmod u\+r\)"):
            read_image(path)
        path.chmod(0o644)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images.os, "open", denied)
    with pytest.raises(ImageReadError, match=r"locked.png: permission denied; make it readable"):
        read_image(path)


def test_file_larger_than_any_image_is_refused_unread(tmp_path):
    path = tmp_path / "disk.jpg"
    with open(path, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk space used
    with pytest.raises(ImageReadError, match="disk.jpg: 1.1 GB is too large for an image"):
        read_image(path)


# -- naming the files written for each image -------------------------------------------------
def test_output_names_are_unique_and_stable(tmp_path):
    names = [
        "a/x.jpg", "b/x.jpg",  # same name in two folders
        "data/sitting/File12.jpg", "data/standing/File12.jpg", "more/sitting/File12.jpg",
        "c/y.jpg", "c/y.png",  # same stem in one folder
        "c/z.jpg", "c/z.jpg",  # the same file twice
        "c/single.jpg",
    ]
    paths = [tmp_path / n for n in names]
    got = [str(p).replace(os.sep, "/") for p in unique_names(paths, "_pred.png")]
    assert got == [
        "a/x_pred.png", "b/x_pred.png",
        "data/sitting/File12_pred.png", "standing/File12_pred.png",
        "more/sitting/File12_pred.png",
        "y_jpg_pred.png", "y_png_pred.png",
        "z_pred.png", "z_pred.png",
        "single_pred.png",
    ]
    assert unique_names(list(reversed(paths)), "_pred.png")[::-1] == unique_names(paths,
                                                                                 "_pred.png")


def test_output_that_would_replace_an_input_is_refused(tmp_path, rgb):
    photo, earlier = tmp_path / "x.jpg", tmp_path / "x_pred.png"
    Image.fromarray(rgb).save(photo)
    Image.fromarray(rgb).save(earlier)
    with pytest.raises(InputError, match=r"--draw .*: the output for .*x.jpg would replace the "
                       r"input .*x_pred.png; choose another folder"):
        output_paths([photo, earlier], tmp_path, "_pred.png", option="--draw")
    assert output_paths([photo], tmp_path, "_pred.png") == [earlier]  # not an input: replaced
