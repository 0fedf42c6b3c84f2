# One image for every service that runs our code (docker-compose.yml): the server (`authserver serve`),
# the one-shot `keys` and `migrate` services (the `authserver` CLI), and the example resource service.
# Production unless told otherwise: it refuses to start without an https issuer, a pepper and a keys
# passphrase. Development (public pepper, generated unencrypted keys) is an explicit opt-in:
# `docker run -e AUTHSERVER_ENV=development ...`.
FROM python:3.11-slim
# The admin and management listeners listen on every interface of the container, so the container
# network (Prometheus, the orchestrator's probes, an operator's admin client) reaches them; they are not
# EXPOSEd, and must never be published beside 8000 (docs/operations.md, "The listeners").
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    AUTHSERVER_ENV=production \
    AUTHSERVER_MANAGEMENT_BIND=0.0.0.0:9000 \
    AUTHSERVER_ADMIN_BIND=0.0.0.0:9001
WORKDIR /app
COPY pyproject.toml setup.cfg README.md ./
COPY authserver ./authserver
# The verifier is its own distribution (verifier/): the server depends on it and the example resource
# service runs on it; installed from the copy in the same pip command (no index has it).
COPY verifier/pyproject.toml verifier/README.md ./verifier/
COPY verifier/src ./verifier/src
RUN pip install --no-cache-dir ./verifier ".[otel]" \
 && useradd --system --no-create-home --shell /usr/sbin/nologin authserver \
 && mkdir -m 0700 /keys \
 && chown authserver /keys  # a fresh named volume mounted here copies this owner and mode
# Migrations are found in the working directory; the example is imported from it by gunicorn.
COPY migrations ./migrations
COPY examples ./examples
USER authserver
EXPOSE 8000 8001
# The production server (README, "Production"): granian, one worker per CPU of the container unless
# WEB_CONCURRENCY or AUTHSERVER_SERVE_WORKERS says otherwise, keep-alive, an access log without query
# strings; on SIGTERM a drain (AUTHSERVER_DRAIN_SECONDS, 5 s: /readyz answers 503) then a graceful stop
# (AUTHSERVER_SERVE_GRACEFUL_TIMEOUT, 10 s): give the container a stop grace period above 15 s.
CMD ["authserver", "serve", "--bind", "0.0.0.0:8000"]
