from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.errors import InputError
from edge_sdk.images import read_image, to_bgr
from edge_sdk.rec.preprocess import padded_width, resize_normalize
from edge_sdk.zoo import Preprocess

PP = Preprocess()


@pytest.mark.parametrize(
    "h,w,expected",
    [
        (48, 10, 320),  # narrow lines pad to the 320 floor
        (48, 320, 320),
        (48, 321, 352),  # rounded up to a multiple of 32
        (48, 353, 384),
        (24, 200, 416),  # scaled to H=48 first (400), then rounded up
        (32, 100, 320),  # 150 -> floor
        (10, 2000, 3200),  # capped
    ],
)
def test_padded_width_rule(h: int, w: int, expected: int) -> None:
    assert padded_width(h, w, PP) == expected


def test_padded_width_is_multiple_of_step_and_in_range() -> None:
    rng = np.random.default_rng(0)
    for h, w in rng.integers(1, 4000, size=(500, 2)):
        W = padded_width(int(h), int(w), PP)
        assert W % PP.width_step == 0 and PP.min_width <= W <= PP.max_width


def test_resize_normalize_values_and_padding() -> None:
    img = np.full((24, 60, 3), 255, dtype=np.uint8)  # white line -> resized to 48x120
    out = resize_normalize(img, PP)
    assert out.shape == (3, 48, 320) and out.dtype == np.float32
    assert np.allclose(out[:, :, :120], 1.0)  # (255/255 - 0.5)/0.5
    assert np.all(out[:, :, 120:] == 0.0)  # right padding is zero after normalization


def test_color_order_is_bgr_by_default() -> None:
    img = np.zeros((48, 48, 3), dtype=np.uint8)
    img[:, :, 0] = 255  # blue in BGR
    out = resize_normalize(img, PP)
    assert out[0, 0, 0] == 1.0 and out[2, 0, 0] == -1.0
    rgb = resize_normalize(img, Preprocess(color="RGB"))
    assert rgb[2, 0, 0] == 1.0 and rgb[0, 0, 0] == -1.0


def test_very_wide_line_is_squeezed_to_max_width() -> None:
    out = resize_normalize(np.zeros((10, 5000, 3), dtype=np.uint8), PP)
    assert out.shape == (3, 48, 3200)


def test_gray_and_bgra_become_bgr() -> None:
    assert to_bgr(np.zeros((5, 7), np.uint8)).shape == (5, 7, 3)
    assert to_bgr(np.zeros((5, 7, 4), np.uint8)).shape == (5, 7, 3)
    assert to_bgr(np.zeros((5, 7, 1), np.uint8)).shape == (5, 7, 3)


@pytest.mark.parametrize(
    "arr,msg",
    [
        (np.zeros((0, 5, 3), np.uint8), "no pixels"),
        (np.zeros((5, 5, 3), np.float32), "dtype float32"),
        (np.zeros((5, 5, 2), np.uint8), "shape"),
        ("not an array", "not an image path"),
    ],
)
def test_bad_arrays_are_refused(arr: object, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        to_bgr(arr)  # type: ignore[arg-type]


def test_read_image_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="image not found"):
        read_image(tmp_path / "missing.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(empty)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    with pytest.raises(InputError, match="not a readable image"):
        read_image(corrupt)
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)


def test_read_image_unicode_path_and_16bit(tmp_path: Path) -> None:
    p = tmp_path / "文字.png"
    cv2.imencode(".png", np.full((8, 16), 40000, np.uint16))[1].tofile(str(p))
    img = read_image(p)
    assert img.dtype == np.uint8 and img.shape == (8, 16, 3) and int(img[0, 0, 0]) == 40000 >> 8


@pytest.mark.parametrize("suffix, params", [
    (".png", []), (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    (".bmp", []), (".tif", []), (".webp", []),
])
def test_file_size_hint_is_the_decoded_size(tmp_path: Path, suffix: str, params: list) -> None:
    """predict plans by these header sizes: they must be what read_image decodes (h, w)."""
    from edge_sdk.images import file_size_hint

    img = np.random.default_rng(0).integers(0, 255, (37, 211, 3), dtype=np.uint8)
    path = tmp_path / f"line{suffix}"
    assert cv2.imwrite(str(path), img, params)
    assert file_size_hint(path) == read_image(path).shape[:2] == (37, 211)


def test_pixel_cap_reads_png_jpeg_and_bmp_headers_without_pil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """decode_image checks the pixel cap from headers it parses itself (PIL's header read cost ~70 us of a
    small line's ~85); PIL is asked only for other formats, or when a parsed header is over the cap."""
    from edge_sdk import images
    from edge_sdk.errors import InputError

    asked = []
    real = images._header_size
    monkeypatch.setattr(images, "_header_size", lambda data: asked.append(1) or real(data))
    img = np.random.default_rng(0).integers(0, 255, (37, 211, 3), dtype=np.uint8)
    for suffix in (".png", ".jpg", ".bmp"):
        path = tmp_path / f"line{suffix}"
        assert cv2.imwrite(str(path), img)
        assert read_image(path).shape == (37, 211, 3)
        with pytest.raises(InputError, match=r"211 x 37 pixels .* over the 0 MP limit"):
            read_image(path, max_pixels=5000)  # over the cap by the parsed header: PIL confirms it
    assert len(asked) == 3
    assert cv2.imwrite(str(tmp_path / "line.tif"), img)
    assert read_image(tmp_path / "line.tif").shape == (37, 211, 3) and len(asked) == 4


def test_file_size_hint_jpeg_exif_rotation_and_unknowns(tmp_path: Path) -> None:
    from PIL import Image

    from edge_sdk.images import file_size_hint

    path = tmp_path / "rotated.jpg"  # EXIF orientation 6 (rotate 90): the decoder keeps the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (120, 30), "white").save(path, exif=exif.tobytes())
    assert file_size_hint(path) == read_image(path).shape[:2] == (30, 120)
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name in ("corrupt.png", "empty.jpg", "missing.png"):
        assert file_size_hint(tmp_path / name) is None
    assert file_size_hint(tmp_path) is None  # a directory
