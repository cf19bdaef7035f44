"""The PaddleX-style API on the real model: create_model(...).predict(...)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk import TextRecResult, create_model
from edge_sdk.datasets import SAMPLES_DIR, default_samples
from edge_sdk.errors import BackendUnavailableError, EdgeSDKError, InputError
from edge_sdk.metrics import rec_metrics
from edge_sdk.model_dir import ModelDir
from edge_sdk.rec import recognizer
from edge_sdk.rec.recognizer import Prediction, TextRecognizer
from runtimes.device import this_device


@pytest.fixture(scope="module")
def onnx_model(onnx_artifact: Path) -> TextRecognizer:
    return create_model(str(onnx_artifact), backend="onnxruntime")


def _x86_with_openvino() -> bool:
    profile = this_device()
    return profile.arch_family == "x86" and "openvino" in profile.backends


def test_zoo_name_runs_where_the_ranking_says_and_paddle_by_name() -> None:
    model = create_model("PP-OCRv4_mobile_rec")
    # the Paddle program itself: OpenVINO reads it directly and ranks first on x86
    assert model.backend == ("openvino" if _x86_with_openvino() else "paddle") and model.num_classes == 6625
    assert "first usable in the 'x86' ranking" in model.chosen_by or not _x86_with_openvino()
    reference = create_model("PP-OCRv4_mobile_rec", backend="paddle")
    assert reference.backend == "paddle" and reference.chosen_by == "paddle:cpu: asked for by name"
    images = [s.path for s in default_samples()]
    assert [r.rec_text for r in model.predict(images)] == [r.rec_text for r in reference.predict(images)]


def test_auto_picks_by_the_ranking_and_a_name_always_wins(onnx_artifact: Path) -> None:
    auto = create_model(str(onnx_artifact))
    assert auto.backend == ("openvino" if _x86_with_openvino() else "onnxruntime")
    assert auto.describe()["chosen_by"] == auto.chosen_by
    assert create_model(str(onnx_artifact), backend="onnxruntime").backend == "onnxruntime"


def test_onnx_model_fixture_is_onnxruntime(onnx_model: TextRecognizer) -> None:
    assert onnx_model.backend == "onnxruntime" and onnx_model.model.model_name == "PP-OCRv4_mobile_rec"


def test_samples_are_read_correctly(onnx_model: TextRecognizer) -> None:
    samples = default_samples()
    results = list(onnx_model.predict(str(SAMPLES_DIR)))
    assert [Path(r.input_path).name for r in results] == sorted(s.path.name for s in samples)
    labels = {s.path.name: s.label for s in samples}
    m = rec_metrics([r.rec_text for r in results], [labels[Path(r.input_path).name] for r in results])
    assert m.acc == 1.0, [(r.rec_text, labels[Path(r.input_path).name]) for r in results]  # spaces aside
    assert all(0.5 < r.rec_score <= 1.0 for r in results)


def test_predict_is_lazy(onnx_model: TextRecognizer) -> None:
    gen = onnx_model.predict(str(SAMPLES_DIR), batch_size=2)
    assert isinstance(gen, Prediction) and iter(gen) is gen and gen.skipped == []
    onnx_model.predict("no/such/file.png")  # nothing is read until iterated
    first = next(gen)
    assert isinstance(first, TextRecResult)


def test_input_kinds_give_the_same_results(onnx_model: TextRecognizer) -> None:
    paths = sorted(str(p) for p in SAMPLES_DIR.glob("*.png"))
    by_dir = [(r.rec_text, r.rec_score) for r in onnx_model.predict(str(SAMPLES_DIR))]
    by_list = [(r.rec_text, r.rec_score) for r in onnx_model.predict(paths)]
    arrays = [cv2.imread(p) for p in paths]
    by_arrays = list(onnx_model.predict(arrays))
    by_label_file = [(r.rec_text, r.rec_score) for r in onnx_model.predict(str(SAMPLES_DIR / "labels.txt"))]
    assert by_dir == by_list
    assert [(r.rec_text, r.rec_score) for r in by_arrays] == by_dir
    assert all(r.input_path is None for r in by_arrays)
    assert sorted(by_label_file) == sorted(by_dir)
    single = list(onnx_model.predict(arrays[0]))
    assert [(r.rec_text, r.rec_score) for r in single] == [by_dir[0]]


def test_batch_size_does_not_change_results(onnx_model: TextRecognizer) -> None:
    paths = sorted(str(p) for p in SAMPLES_DIR.glob("*.png")) * 3
    base = [r.rec_text for r in onnx_model.predict(paths, batch_size=1)]
    for bs in (2, 5, 8, 32):
        assert [r.rec_text for r in onnx_model.predict(paths, batch_size=bs)] == base


def _recorded_shapes(model: TextRecognizer, monkeypatch: pytest.MonkeyPatch) -> list:
    """The input shapes ``model``'s session runs from now on, in order."""
    shapes = []
    real_run = model.session.run

    def recording_run(batch: np.ndarray) -> np.ndarray:
        shapes.append(batch.shape)
        return real_run(batch)

    monkeypatch.setattr(model.session, "run", recording_run)
    return shapes


def test_a_batch_is_bounded_in_columns_and_results_do_not_change(onnx_model: TextRecognizer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:

    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    lines = [img] * 6 + [cv2.resize(img, (40 * img.shape[1] // 10, img.shape[0]))] * 3  # short lines and 4x wider
    want = [onnx_model.recognize([line])[0] for line in lines]
    shapes = _recorded_shapes(onnx_model, monkeypatch)
    got = onnx_model.recognize(lines, batch_size=8)
    assert all(n * w <= recognizer.MAX_BATCH_COLUMNS or n == 1 for n, _, _, w in shapes), shapes
    assert sum(n for n, _, _, _ in shapes) == 9 and max(n for n, _, _, _ in shapes) > 1
    assert [t for t, _ in got] == [t for t, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


@pytest.mark.parametrize("n, step, blank, sizes", [
    (0, 8, 4, []),
    (3, 8, 4, [(3, 3)]),
    (10, 8, 0, [(5, 5), (5, 5)]),  # shared out evenly: one size, no blank row
    (71, 8, 4, [(8, 8)] * 8 + [(7, 8)]),  # the last batch gets 1 blank row: one shape for the width
    (71, 8, 0, [(8, 8)] * 8 + [(7, 7)]),  # a backend where a new shape costs nothing: no blank rows
    (73, 8, 4, [(8, 8)] * 9 + [(1, 1)]),  # 7 blank rows would cost more than the shape
    (9, 1, 4, [(1, 1)] * 9),
])
def test_width_batches_share_lines_out_and_pad_the_last_batch_when_cheap(n: int, step: int, blank: int,
                                                                         sizes: list) -> None:
    batches = recognizer.width_batches(list(range(100, 100 + n)), step, blank)
    assert [(len(lines), rows) for lines, rows in batches] == sizes
    assert [i for lines, _ in batches for i in lines] == list(range(100, 100 + n))  # each line once, in order


def test_blank_rows_change_no_result(onnx_model: TextRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A width's last batch padded with blank rows (as on OpenVINO) gives every line its unpadded result."""
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    lines = [img, cv2.flip(img, 1)] * 3 + [cv2.flip(img, 0)]  # 7 lines of one width
    want = [onnx_model.recognize([line])[0] for line in lines]
    shapes = _recorded_shapes(onnx_model, monkeypatch)
    assert onnx_model.session.new_shape_lines == 0  # onnxruntime: a new shape costs nothing
    assert [t for t, _ in onnx_model.recognize(lines, batch_size=4)] == [t for t, _ in want]
    assert [n for n, _, _, _ in shapes] == [4, 3]
    monkeypatch.setattr(onnx_model.session, "new_shape_lines", 4)
    shapes.clear()
    got = onnx_model.recognize(lines, batch_size=4)
    assert [n for n, _, _, _ in shapes] == [4, 4]  # 3 lines and a blank row
    assert [t for t, _ in got] == [t for t, _ in want]
    assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-5)


def test_predict_plans_at_most_one_plan_ahead(onnx_model: TextRecognizer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recognizer, "PLAN_LINES", 64)  # the real plan, made small to keep the test short
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    taken = []

    def lines():
        for i in range(1000):
            taken.append(i)
            yield img

    run = onnx_model.predict(lines(), batch_size=8)
    first = next(run)
    assert first.rec_text == onnx_model.recognize([img])[0][0]
    assert 64 <= len(taken) <= 128 + 1  # this plan, and at most the next one (read while this one ran)
    run._gen.close()  # type: ignore[attr-defined]  # stopping early reads no further
    assert len(taken) <= 128 + 1


def test_a_plan_holds_at_most_plan_bytes_of_pixels(onnx_model: TextRecognizer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    monkeypatch.setattr(recognizer, "PLAN_BYTES", 10 * img.nbytes)
    taken = []

    def lines():
        for i in range(300):
            taken.append(i)
            yield img

    run = onnx_model.predict(lines(), batch_size=8)
    next(run)
    assert 10 <= len(taken) <= 20 + 1  # arrays passed in count: 10 lines a plan, and the next plan read ahead
    assert len(list(run)) == 299 and len(taken) == 300


def test_decoded_chunks_are_cut_between_batches(onnx_model: TextRecognizer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk of decoded lines (WINDOW_BYTES) ends between two batches of a width that goes on into the
    next chunk: 60 lines of one width at 4 a batch run as 15 full batches, though a chunk fills at 10
    lines (cut anywhere, each chunk would end in a part-batch: a new input shape on OpenVINO)."""
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    paths = []
    for i in range(60):
        paths.append(str(tmp_path / f"same_{i:02d}.png"))
        cv2.imwrite(paths[-1], img)
    want = onnx_model.recognize([img])[0]
    monkeypatch.setattr(recognizer, "WINDOW_BYTES", 10 * img.nbytes)
    shapes = _recorded_shapes(onnx_model, monkeypatch)
    got = list(onnx_model.predict(paths, batch_size=4, keep_images=False))
    assert [r.rec_text for r in got] == [want[0]] * 60
    assert shapes == [(4, 3, 48, 320)] * 15, shapes
    assert onnx_model._batch_lines(320, 4) == 4 and onnx_model._batch_lines(3200, 8) == 1


def _mixed_width_files(tmp_path: Path, count: int) -> list:
    """``count`` line files of 6 padded widths, interleaved: sample_01 stretched to 1-6x its width."""
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    paths = []
    for i in range(count):
        k = 1 + (i * 5) % 6
        path = tmp_path / f"line_{i:03d}.png"
        cv2.imwrite(str(path), cv2.resize(img, (k * img.shape[1], img.shape[0])))
        paths.append(str(path))
    return paths


def test_predict_runs_each_width_once_and_yields_in_input_order(onnx_model: TextRecognizer, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Files are planned by their header sizes: each input shape runs in one stretch (no shape comes back,
    which would make OpenVINO rebuild its kernels), and the results still come out in input order."""
    paths = _mixed_width_files(tmp_path, 60)
    want = [onnx_model.recognize([cv2.imread(p)])[0] for p in paths]
    shapes = _recorded_shapes(onnx_model, monkeypatch)
    got = list(onnx_model.predict(paths, batch_size=8))
    assert [r.input_path for r in got] == paths
    assert [r.rec_text for r in got] == [t for t, _ in want]
    assert np.allclose([r.rec_score for r in got], [s for _, s in want], atol=1e-5)
    assert all(np.array_equal(r.input_img, cv2.imread(p)) for r, p in zip(got, paths))
    stretches = [shape for i, shape in enumerate(shapes) if i == 0 or shapes[i - 1] != shape]
    assert len(stretches) == len(set(shapes)) and len({w for _, _, _, w in shapes}) == 6, shapes
    assert [w for _, _, _, w in stretches] == sorted(w for _, _, _, w in stretches)  # narrowest first


def test_keep_images_bounds_the_plan_by_its_pixels(onnx_model: TextRecognizer, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Results wait for earlier lines with their pixels when keep_images: such a plan holds at most
    PLAN_BYTES of them (from the headers); without keep_images it holds paths, sizes and texts only."""
    paths = _mixed_width_files(tmp_path, 120)
    one = cv2.imread(paths[-1]).nbytes  # the widest
    monkeypatch.setattr(recognizer, "PLAN_BYTES", 6 * one)
    monkeypatch.setattr(recognizer, "PLAN_LINES", 40)
    for keep, least, most in ((True, 6, 2 * 12 + 1), (False, 40, 2 * 40 + 1)):
        taken = []

        def lines():
            for p in paths:
                taken.append(p)
                yield p

        run = onnx_model.predict(lines(), batch_size=8, keep_images=keep)
        next(run)
        assert least <= len(taken) <= most, (keep, len(taken))
        assert len(list(run)) == len(paths) - 1 and len(taken) == len(paths)


def test_stop_error_comes_after_every_earlier_line_of_any_width(onnx_model: TextRecognizer,
                                                                tmp_path: Path) -> None:
    """A corrupt file's size is unknown, so it is read first; the error still waits for the (wider) lines
    before it, and nothing after it is yielded."""
    narrow, wide = _mixed_width_files(tmp_path, 2)  # 1x and 6x sample_01
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    got = []
    with pytest.raises(InputError, match="bad.png"):
        for r in onnx_model.predict([narrow, wide, str(bad), narrow], batch_size=8):
            got.append(r.input_path)
    assert got == [narrow, wide]
    run = onnx_model.predict([narrow, str(bad), wide], batch_size=8, on_error="skip")
    assert [r.input_path for r in run] == [narrow, wide] and [s.input_path for s in run.skipped] == [str(bad)]


def test_a_lines_result_does_not_depend_on_its_neighbours(onnx_model: TextRecognizer) -> None:
    img = cv2.imread(str(SAMPLES_DIR / "sample_01_en.png"))
    alone = onnx_model.run_lines([img])[0]
    wide = np.full((30, 900, 3), 255, np.uint8)
    with_neighbours = onnx_model.run_lines([wide, img, wide[:, :100]], batch_size=3)[1]
    # Same input tensor (its width is its own); a different batch size may only change float rounding
    # inside the backend's kernels.
    assert alone.shape == with_neighbours.shape == (40, 6625)
    assert np.abs(alone - with_neighbours).max() < 1e-5


def test_bad_inputs_raise_clear_errors(onnx_model: TextRecognizer, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input not found"):
        list(onnx_model.predict(str(tmp_path / "nope.png")))
    with pytest.raises(InputError, match="no images"):
        list(onnx_model.predict(str(tmp_path)))
    with pytest.raises(InputError, match="pass image paths"):
        list(onnx_model.predict([1, 2]))
    with pytest.raises(EdgeSDKError, match="batch_size must be from 1 to 256, not 0"):
        onnx_model.predict(str(SAMPLES_DIR), batch_size=0)


def test_explicit_backend_must_fit_the_format(onnx_artifact: Path, paddle_model: ModelDir) -> None:
    with pytest.raises(BackendUnavailableError, match="cannot run a onnx model"):
        create_model(str(onnx_artifact), backend="paddle")
    with pytest.raises(EdgeSDKError, match="backend must be one of .* not 'tensorflow'"):
        create_model(str(paddle_model.path), backend="tensorflow")


def test_missing_backend_names_the_pip_command(onnx_artifact: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runtimes

    monkeypatch.setattr(runtimes, "is_available", lambda name: False)
    with pytest.raises(BackendUnavailableError, match=r"run: pip install onnxruntime"):
        create_model(str(onnx_artifact))
