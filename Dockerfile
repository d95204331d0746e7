# syntax=docker/dockerfile:1
# One image, two flavours:
#   docker build --build-arg FLAVOR=cpu  -t visualsearch:cpu  .   # web, mlflow, CPU workers
#   docker build --build-arg FLAVOR=cuda -t visualsearch:cuda .   # GPU workers
# docker-compose.yml builds both.
#
# Both flavours start from the same slim Python: torch's CUDA wheels carry their own
# CUDA runtime and cuDNN, so a GPU container needs only the host driver, which the
# NVIDIA container toolkit mounts in. What differs is the torch build (CPU wheels are
# ~10x smaller) and FAISS (faiss-gpu instead of faiss-cpu).
ARG FLAVOR=cpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base-cpu
ENV TORCH_INDEX_URL_DEFAULT=https://download.pytorch.org/whl/cpu

FROM ${PYTHON_IMAGE} AS base-cuda
# PyPI's torch wheels for Linux x86_64 are the CUDA builds (see requirements/gpu.txt).
ENV TORCH_INDEX_URL_DEFAULT=https://pypi.org/simple \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

FROM base-${FLAVOR}
ARG FLAVOR
# Override for a specific CUDA runtime, e.g. https://download.pytorch.org/whl/cu128
ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    DEBUG=false \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VISUALSEARCH_VAR_DIR=/app/var \
    MEDIA_ROOT=/app/var/media \
    STATIC_ROOT=/app/staticfiles \
    MODEL_CACHE_DIR=/models \
    HF_HOME=/models/huggingface \
    TORCH_HOME=/models/torch \
    MPLCONFIGDIR=/tmp/matplotlib

# OpenCV (pulled in by yolov5) needs libGL and glib at import time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Requirements first: code changes then rebuild only the last layers.
COPY requirements/ requirements/
# torch/torchvision at base.txt's pins, from the flavour's index; base.txt then finds them installed.
RUN set -eux; \
    index="${TORCH_INDEX_URL:-$TORCH_INDEX_URL_DEFAULT}"; \
    pip install --index-url "$index" $(grep -E '^(torch|torchvision)==' requirements/base.txt); \
    pip install -r requirements/base.txt; \
    if [ "$FLAVOR" = cuda ]; then \
        pip uninstall -y faiss-cpu && pip install -r requirements/gpu.txt; \
    fi

COPY . .

# Collected at build time so containers start fast and the image is immutable. Settings
# connect to no database and collectstatic opens none, so none is needed here. The key
# is random and thrown away: production settings refuse a missing or known one.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DEBUG=false python manage.py collectstatic --noinput -v0

# Non-root. Named volumes mounted on these paths start with this ownership.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media /app/var/indexes /models /mlflow/artifacts \
    && chown -R app:app /app/var /models /mlflow
USER app

VOLUME ["/models"]
EXPOSE 8000
# gthread workers, timeouts and request limits for slow clients: docker/gunicorn.conf.py.
CMD ["gunicorn", "--config=docker/gunicorn.conf.py", "visualsearch.wsgi:application"]
