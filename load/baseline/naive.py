"""The naive baseline: one forward pass per request, no micro-batching, no cache, no queue bound.

Same `POST /v1/classify` contract and `GET /health/ready` as the service, so the bench can drive
both with the same client. Each request runs `Classifier.predict([text])` in Litestar's sync
threadpool, which is what a first, straightforward implementation would do.

    python -m load.baseline.naive        # binds DIALOGIC_HOST:DIALOGIC_PORT, uses DIALOGIC_MODEL_*
"""

from __future__ import annotations

import msgspec
import uvicorn
from litestar import Litestar, get, post

from model.runtime.classifier import Backend, Classifier
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


def main() -> None:
    settings = Settings.from_env()
    backend: Backend = "int8" if settings.model_backend == "int8" else "fp32"
    app = create_app(Classifier.load(settings.model_dir, backend))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
