"""Write a PIR (``inference.json``) copy of a legacy Paddle inference model, as PaddleX 3.x ships them.

Usage: python tests/make_pir_copy.py SRC_DIR DEST_DIR
Runs in its own process (the tests call it with subprocess) because it switches Paddle's global IR mode.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import paddle


def main(src: Path, dest: Path) -> None:
    paddle.enable_static()
    exe = paddle.static.Executor(paddle.CPUPlace())
    with paddle.pir_utils.OldIrGuard():
        legacy, _, _ = paddle.static.load_inference_model(str(src / "inference"), exe)
    program = paddle.pir.translate_to_pir(legacy.desc)
    # Bind the translated parameters to the values the legacy load put in the global scope.
    params = [v for v in program.list_vars()
              if v.persistable and (v.is_parameter or v.get_defining_op().name() == "builtin.parameter")]
    paddle.base.libpaddle.pir.create_loaded_parameter(params, paddle.static.global_scope(), exe._default_executor)
    ops = program.global_block().ops
    feeds = [r for op in ops if op.name() == "pd_op.feed" for r in op.results()]
    fetches = [s for op in ops if op.name() in ("pd_op.fetch", "builtin.shadow_output") for s in op.operands_source()]
    dest.mkdir(parents=True, exist_ok=True)
    with paddle.pir_utils.IrGuard():
        paddle.static.save_inference_model(str(dest / "inference"), feeds, fetches, exe, program=program)
    if (src / "inference.yml").is_file():
        shutil.copy(src / "inference.yml", dest / "inference.yml")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
