"""The naive baseline: one forward pass per request, no micro-batching, no cache, no queue bound.

Same `POST /v1/classify` contract and `GET /health/ready` as the service, so the bench can drive
both with the same client. Each request runs `Classifier.predict([text])` in Litestar's sync
threadpool, which is what a first, straightforward implementation would do; with int8, on the file
ONNX Runtime's own dynamic quantisation makes (`onnx_int8.STANDARD_BUILD`), the fastest for one text
per pass, not on the service's per-row file.

    python -m load.baseline.naive        # binds DIALOGIC_HOST:DIALOGIC_PORT, uses DIALOGIC_MODEL_*
"""

from __future__ import annotations

import dataclasses

import msgspec
import uvicorn
from litestar import Litestar, get, post

from model.runtime import onnx_int8
from model.runtime.classifier import ARTIFACT_DIR, Backend, Classifier, onnx_forward
from service.settings import Settings


class ClassifyIn(msgspec.Struct):
    text: str
    id: str | None = None


class ClassifyOut(msgspec.Struct):
    label: str
    scores: dict[str, float]
    id: str | None = None


def create_app(classifier: Classifier) -> Litestar:
    @post("/v1/classify", sync_to_thread=True, status_code=200)
    def classify(data: ClassifyIn) -> ClassifyOut:
        prediction = classifier.predict([data.text])[0]
        return ClassifyOut(prediction.label, prediction.scores, data.id)

    @get("/health/ready", sync_to_thread=False)
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    return Litestar([classify, ready])


def load(settings: Settings) -> Classifier:
    backend: Backend = "int8" if settings.model_backend == "int8" else "fp32"
    classifier = Classifier.load(settings.model_dir, backend)
    if backend == "int8":
        directory = settings.model_dir or ARTIFACT_DIR
        standard = onnx_int8.session(directory, classifier.version, 0, onnx_int8.STANDARD_BUILD)
        classifier = dataclasses.replace(classifier, forward=onnx_forward(standard))
    return classifier


def main() -> None:
    settings = Settings.from_env()
    app = create_app(load(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
