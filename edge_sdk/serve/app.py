"""The kiosk server's ASGI app (Starlette): routes, request limits, admission, timeouts, answers.

    POST /ocr               PaddleX serving's OCR request (JSON) or rapidocr_api's (form), told apart by
                            content type; needs the OCR pipeline (``--det``), except rapidocr's use_det=false
    POST /text-recognition  one cropped line, PaddleX-style envelope (recognition only works without --det)
    GET  /health            PaddleX's health answer;  GET /models: what is loaded
    GET  /metrics           Prometheus text;          GET /: the try-it page

Every request is admitted into the scheduler's bounded count first (503 + ``Retry-After`` when full, before
its body is read), then read (at most ``max_body_bytes``), decoded in a worker thread (at most
``max_pixels``), run by the scheduler's inference thread and answered, or answered 504 after
``timeout_s``. Nothing a client sends reaches a backend session except from that one thread.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..errors import EdgeSDKError
from ..images import decode_image
from . import paddlex_api as px
from . import rapidocr_api as ra
from .metrics import AccessLog, Metrics
from .scheduler import Job, QueueFull, Scheduler

log = logging.getLogger("edge_sdk.serve")
PAGE = Path(__file__).parent / "page" / "index.html"
RETRY_AFTER_S = 1


@dataclass
class ServerConfig:
    queue_size: int = 16  # requests inside at once (reading, waiting, running); more get 503
    timeout_s: float = 30.0  # per request, from admission to answer
    max_body_bytes: int = 20 << 20  # a request body (a 20 MB upload is a large photo)
    max_pixels: int = 40_000_000  # a decoded image (a 40 MP photo)
    max_batch_items: int = 64  # line crops or pages the inference thread runs together
    visualize: bool = True  # PaddleX's default for ``visualize: null``: send the drawn result image


class BodyTooLarge(Exception):
    pass


class _Fail(Exception):
    """Answer the current request with an error in its own wire format; ``reason`` labels the metric."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(message)
        self.status, self.message, self.reason = status, message, reason


def _json(data: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status, headers, media_type="application/json")


class Server:
    """The state behind one app: the loaded predictors, the scheduler, the metrics."""

    def __init__(self, rec: Any, pipeline: Any = None, config: Optional[ServerConfig] = None) -> None:
        self.rec, self.pipeline, self.config = rec, pipeline, config or ServerConfig()
        batch = getattr(pipeline, "rec_batch_size", 6)
        self.scheduler = Scheduler(lambda crops: rec.recognize(crops, batch),
                                   pipeline.ocr_batch if pipeline is not None else None,
                                   self.config.queue_size, self.config.max_batch_items,
                                   on_batch=lambda *a: self.metrics.batch(*a))
        self.metrics = Metrics(lambda: self.scheduler.inside, lambda: self.scheduler.waiting)

    # plumbing shared by the endpoints ----------------------------------------------------------------
    def _declared_too_large(self, request: Request) -> bool:
        declared = request.headers.get("content-length")
        return declared is not None and declared.isdigit() and int(declared) > self.config.max_body_bytes

    async def _body(self, request: Request) -> bytes:
        if self._declared_too_large(request):
            raise BodyTooLarge()
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.config.max_body_bytes:
                raise BodyTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)

    async def _decode(self, data: bytes, name: str) -> Any:
        return await run_in_threadpool(decode_image, data, name, self.config.max_pixels)

    async def _run(self, job: Job, admission: Any) -> Any:
        future = self.scheduler.submit(job, admission)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.config.timeout_s)
        except asyncio.TimeoutError:
            future.cancel()  # skipped if it has not started; its slot frees when it is run or skipped
            raise

    def _too_large(self) -> str:
        return f"the request is over this server's {self.config.max_body_bytes >> 20} MB limit."

    async def _handle(self, request: Request, client: str, reply: Callable[..., Response],
                      prepare: Callable[[Request, Dict[str, Any]], Awaitable[Tuple[Job, Callable[[Any], Any]]]]
                      ) -> Response:
        """One request's life, whatever its wire format: admit (or 503), ``prepare`` (read, parse, decode:
        a ``_Fail`` answers in the format's ``reply``), run (or 504/500), ``answer`` the result."""
        access = request.scope["state"]["access"]
        access["client"] = client
        try:
            admission = self.scheduler.admit()
        except QueueFull:
            access["reason"] = "queue_full"
            return reply(503, "the server is busy; retry shortly.", {"Retry-After": str(RETRY_AFTER_S)})
        submitted = False
        try:
            job, answer = await prepare(request, access)
            submitted = True
            try:
                res = await self._run(job, admission)
            except asyncio.TimeoutError:
                raise _Fail(504, f"no answer within {self.config.timeout_s:g} s; the server is overloaded.",
                            "timeout") from None
            except Exception as exc:  # noqa: BLE001 - a backend failure: one sentence out, logged once here
                log.error("inference failed (%s): %s", access.get("log_id", client), exc)
                raise _Fail(500, "Internal server error", "inference") from None
            return await answer(res)
        except _Fail as fail:
            access["reason"] = fail.reason
            return reply(fail.status, fail.message)
        finally:
            if not submitted:
                admission.release()

    # PaddleX serving -----------------------------------------------------------------------------------
    async def paddlex(self, request: Request, ocr: bool) -> Response:
        fallback_id = px.new_log_id()

        def reply(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> Response:
            log_id = request.scope["state"]["access"].get("log_id", fallback_id)
            return _json(px.envelope(log_id, None, status, message), status, headers)

        async def prepare(request: Request, access: Dict[str, Any]) -> Tuple[Job, Callable[[Any], Any]]:
            try:
                req = px.parse_request(await self._body(request), ocr)
            except BodyTooLarge:
                raise _Fail(413, self._too_large(), "too_large") from None
            except px.ApiError as exc:
                access["log_id"] = exc.log_id or fallback_id
                raise _Fail(exc.status, exc.message, "bad_request") from None
            access["log_id"] = req.log_id
            if ocr and self.pipeline is None:
                raise _Fail(422, "this server runs recognition only (started without --det); post cropped lines "
                                 "to /text-recognition.", "no_pipeline")
            try:
                settings = self.pipeline.settings(**req.settings) if ocr else None
            except EdgeSDKError as exc:
                raise _Fail(422, str(exc), "bad_request") from None
            try:
                image = await self._decode(req.image, "file")
            except EdgeSDKError as exc:
                raise _Fail(422, f"Invalid input file: {exc}", "bad_input") from None
            visualize = self.config.visualize if req.visualize is None else req.visualize

            async def answer(res: Any) -> Response:
                if ocr:
                    access["lines"] = len(res["rec_texts"])
                    result = await run_in_threadpool(self._ocr_result, res, image, visualize)
                else:
                    access["lines"] = 1
                    result = px.rec_result(res, image)
                return _json(px.envelope(req.log_id, result))

            return Job("ocr" if ocr else "rec", [image], settings), answer

        return await self._handle(request, "paddlex", reply, prepare)

    @staticmethod
    def _ocr_result(res: Dict[str, Any], image: Any, visualize: bool) -> Dict[str, Any]:
        from ..pipeline.result import OCRResult

        result = OCRResult(None, res, image, "request")
        return px.ocr_result(px.pruned(result.json["res"]), image, result.to_img() if visualize else None)

    # rapidocr_api --------------------------------------------------------------------------------------
    async def rapidocr(self, request: Request) -> Response:
        def reply(status: int, message: str, headers: Optional[Dict[str, str]] = None) -> Response:
            return _json({"detail": message}, status, headers)

        async def prepare(request: Request, access: Dict[str, Any]) -> Tuple[Job, Callable[[Any], Any]]:
            if self._declared_too_large(request):
                raise _Fail(413, self._too_large(), "too_large")
            try:
                form = await request.form(max_files=1, max_fields=8, max_part_size=self.config.max_body_bytes)
                req = await ra.parse_form(form)
            except ra.FormError as exc:
                raise _Fail(exc.status, exc.message, "bad_request") from None
            except Exception as exc:  # noqa: BLE001 - a malformed multipart body
                raise _Fail(400, f"the form could not be read: {str(exc)[:120]}", "bad_request") from None
            if req.use_det and self.pipeline is None:
                raise _Fail(400, "this server runs recognition only (started without --det); send use_det=false "
                                 "with a cropped line.", "no_pipeline")
            try:
                image = await self._decode(req.image, "image_file" if form.get("image_file") is not None
                                           else "image_data")
                cls = None if req.use_cls is None or self.pipeline is None or self.pipeline.cls is None else req.use_cls
                job = (Job("ocr", [image], self.pipeline.settings(use_textline_orientation=cls)) if req.use_det
                       else Job("rec", [image]))
            except EdgeSDKError as exc:
                raise _Fail(400, str(exc), "bad_input") from None

            async def answer(res: Any) -> Response:
                if req.use_det:
                    out = ra.response(res["rec_polys"], list(zip(res["rec_texts"], res["rec_scores"])))
                else:
                    out = ra.response([ra.whole_image_box(image)], res)
                access["lines"] = len(out)
                return _json(out)

            return job, answer

        return await self._handle(request, "rapidocr", reply, prepare)

    # routes --------------------------------------------------------------------------------------------
    async def ocr(self, request: Request) -> Response:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
            return await self.rapidocr(request)
        if kind in ("application/json", ""):
            return await self.paddlex(request, ocr=True)
        request.scope["state"]["access"]["reason"] = "content_type"
        return _json(px.envelope(px.new_log_id(), None, 415,
                                 f"POST /ocr takes application/json (PaddleX) or a form (rapidocr_api), not {kind}."),
                     415)

    async def text_recognition(self, request: Request) -> Response:
        return await self.paddlex(request, ocr=False)

    async def health(self, request: Request) -> Response:
        return _json(px.envelope(px.new_log_id(), None, 0, "Healthy"))

    async def models(self, request: Request) -> Response:
        p = self.pipeline

        def short(predictor: Any) -> Optional[Dict[str, Any]]:  # no paths: a client learns no file layout
            d = predictor.describe() if predictor is not None else None
            return {k: d.get(k) for k in ("model", "task", "format", "backend", "device", "precision")} if d else None

        return _json({"rec": short(self.rec), "det": short(p.det if p else None), "cls": short(p.cls if p else None),
                      "endpoints": ["/text-recognition"] + (["/ocr"] if p else ["/ocr (use_det=false only)"])})

    async def metrics_page(self, request: Request) -> Response:
        return Response(self.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    async def page(self, request: Request) -> Response:
        return FileResponse(PAGE, media_type="text/html; charset=utf-8")

    def app(self) -> Any:
        async def not_found(request: Request, exc: Exception) -> Response:
            status = getattr(exc, "status_code", 500)
            message = {404: "Not Found", 405: "Method Not Allowed"}.get(status, "Internal server error")
            return _json(px.envelope(px.new_log_id(), None, status, message), status)

        @contextlib.asynccontextmanager
        async def lifespan(app: Any) -> Any:
            yield
            log.info("shutting down: finishing %d requests inside", self.scheduler.inside)
            await run_in_threadpool(self.scheduler.close)

        routes = [Route("/ocr", self.ocr, methods=["POST"]),
                  Route("/text-recognition", self.text_recognition, methods=["POST"]),
                  Route("/health", self.health, methods=["GET"]),
                  Route("/models", self.models, methods=["GET"]),
                  Route("/metrics", self.metrics_page, methods=["GET"]),
                  Route("/", self.page, methods=["GET"])]
        app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found}, lifespan=lifespan)
        return AccessLog(app, self.metrics)


def create_app(rec: Any, pipeline: Any = None, config: Optional[ServerConfig] = None) -> Any:
    """The ASGI app serving ``rec`` (a ``TextRecognizer``) and, when given, ``pipeline`` (an ``OCRPipeline``
    whose recognizer should be ``rec``)."""
    return Server(rec, pipeline, config).app()
