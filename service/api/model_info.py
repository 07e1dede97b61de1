"""GET /v1/model: which model answers, so clients can tell results of different models apart."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency

from model.runtime.classifier import LABELS, Classifier
from service.errors import problem_responses
from service.schemas import ModelInfo


class ModelController(Controller):
    path = "/v1/model"
    tags = ["model"]  # noqa: RUF012

    @get(
        "/",
        summary="Name, version, labels, backend and evaluation metrics of the loaded model",
        responses=problem_responses(401, 429, 503),
    )
    async def model_info(self, classifier: NamedDependency[Classifier]) -> ModelInfo:
        return ModelInfo(
            name=classifier.name,
            version=classifier.version,
            labels=list(LABELS),
            backend=classifier.backend,
            metrics=classifier.metrics,
        )
