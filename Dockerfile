# taskhub image: the API, the worker and the simulated tools all run from it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY connectors ./connectors
COPY mappings ./mappings
COPY sandbox ./sandbox
RUN pip install . && useradd --system --uid 10001 taskhub && mkdir -p /data && chown taskhub /data
USER taskhub
ENV TASKHUB_DATA_DIR=/data TASKHUB_HOST=0.0.0.0
EXPOSE 8000
CMD ["taskhub", "serve"]
