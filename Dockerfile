# One image for web, worker and beat.
FROM node:20-bookworm-slim AS frontend
WORKDIR /app/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VAR_DIR=/data MEDIA_ROOT=/data/media STATIC_ROOT=/app/staticfiles
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt pyproject.toml ./
RUN pip install --no-cache-dir -r requirements.txt
COPY manage.py ./
COPY backend/ backend/
COPY ml/ ml/
RUN pip install --no-cache-dir --no-deps -e .
COPY --from=frontend /app/frontend/dist frontend/dist
RUN DEBUG=1 python manage.py collectstatic --noinput
RUN useradd --create-home spine && mkdir -p /data && chown spine /data
USER spine
EXPOSE 8000
