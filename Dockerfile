# syntax=docker/dockerfile:1
# One image, three entry points (Cloud Run service, worker pool and jobs, see terraform/):
#   web (default)   python deploy/serve_web.py          Reflex backend + the front end built below, on $PORT
#   worker          python -m workers                   a Kafka worker process
#   jobs            python -m backend.admin migrate     schema upgrade before traffic moves
#                   python -m backend.admin create-admin EMAIL
# The base image is pinned to an exact tag (bump it deliberately; `docker buildx imagetools
# inspect python:3.11.14-slim-bookworm` gives the digest to pin it harder).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: Python packages, then the compiled front end --------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    PATH=/opt/venv/bin:$PATH
WORKDIR /app
RUN python -m venv /opt/venv
# Dependencies first (the project's own code changes more often than them): the list is read
# from pyproject.toml, with the Vertex AI extra, at the versions the test suite passed with
# (constraints.txt); the app runs from /app, not installed.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies'] + p['optional-dependencies']['vertexai']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -r /tmp/requirements.txt -c constraints.txt
COPY . .
# The front end is compiled and built here, once. Browsers reach the backend on the page's own
# host: Reflex swaps "localhost" for it and, on https, drops the port, so one image serves the
# *.run.app address, a tagged revision's address and a custom domain alike.
ARG REFLEX_API_URL=http://localhost:8080
RUN REFLEX_API_URL="${REFLEX_API_URL}" reflex export --frontend-only --no-zip --env prod \
 && test -f .web/build/client/index.html

# --- runtime: no build tree, no node_modules; a user without a shell or a home ------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_USE_SYSTEM_BUN=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8080 \
    DATA_DIR=/tmp/llmdash
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build --chown=root:root /app /app
RUN rm -rf /app/.web/node_modules \
 && chown app:app /app/.web
USER 10001:10001
EXPOSE 8080
# Cloud Run ignores HEALTHCHECK (terraform/ gives the web service startup and liveness probes on
# the same /ping); docker and compose use it. Run a worker with `--no-healthcheck`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8080')}/ping\", timeout=4)"]
CMD ["python", "deploy/serve_web.py"]
