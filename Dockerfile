# Production image: `docker compose up` runs it with PostgreSQL and Redis.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /srv/pupil-progress
RUN groupadd --system app && useradd --system --gid app --home /srv/pupil-progress app
COPY pyproject.toml README.md ./
COPY app ./app
COPY models ./models
COPY resolvers ./resolvers
COPY schema ./schema
COPY realtime ./realtime
COPY agent ./agent
RUN pip install --no-cache-dir . && rm -rf /root/.cache
USER app
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
# Migrations run first, then uvicorn workers serve the app (production mode from the environment).
CMD ["sh", "-c", "pupil-progress migrate && exec pupil-progress serve --host 0.0.0.0 --port 8000 --workers ${PP_WORKERS:-2}"]
