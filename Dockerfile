# syntax=docker/dockerfile:1
# wa-gateway: a small image that runs as an unprivileged user. Build: docker build -t wa-gateway .
# The same image runs every process: `serve` (the API), `worker` (dispatch) and `db upgrade`.

FROM python:3.11-slim AS build
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv>=0.6.2,<1"  # 0.6.2: build-constraint-dependencies
WORKDIR /src
# The dependencies first, in a layer of their own: it is rebuilt only when pyproject.toml changes.
# pyproject.toml pins every package ([tool.uv] constraint-dependencies): the image gets the tested set.
COPY pyproject.toml README.md ./
RUN uv sync --no-dev --no-install-project
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
# The project itself, as a regular (non-editable) install: /src is not needed at run time.
RUN uv sync --no-dev --no-editable

FROM python:3.11-slim
RUN groupadd --system --gid 10001 wa-gateway \
    && useradd --system --uid 10001 --gid wa-gateway --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin wa-gateway
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENVIRONMENT=production \
    LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# Liveness: the process answers. (compose.yaml checks /readyz, the database too, for the API.)
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
ENTRYPOINT ["wa-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
