"""Bulk runs beyond one machine: recognition and whole-image OCR on Ray Data (the extra ``edge-sdk[ray]``)."""
from .ray_data import (
    RESULT_COLUMNS, RayRun, ReadPages, RecognizeLines, actor_plan, cluster_plan, image_files_dataset, input_samples,
    lines_dataset, ocr_dataset, ray_session, recognize_dataset, recognize_samples, require_ray, samples_dataset,
)

__all__ = ["RESULT_COLUMNS", "RayRun", "ReadPages", "RecognizeLines", "actor_plan", "cluster_plan",
           "image_files_dataset", "input_samples", "lines_dataset", "ocr_dataset", "ray_session", "recognize_dataset",
           "recognize_samples", "require_ray", "samples_dataset"]
