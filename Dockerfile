# mofa-monitor as a container: `docker build -t mofa-monitor .` — see README.md, "Running as a service".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Only what the package needs: a stray .venv or state/ in the build context never gets in.
WORKDIR /src
COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY templates ./templates
RUN pip install . \
    && rm -rf /src

# A dedicated unprivileged user; only the state volume is writable by it.
RUN useradd --system --uid 10001 --user-group --home-dir /app --create-home \
        --shell /usr/sbin/nologin mofa \
    && install -d -o mofa -g mofa -m 0750 /app/state \
    && install -d -m 0755 /app/config
WORKDIR /app
USER mofa

# Mount a folder holding config.toml at /app/config (read-only is fine); the config must say
# state_dir = "/app/state" and, for the health check, listen = "0.0.0.0:8787".
ENV MOFA_MONITOR_CONFIG=/app/config/config.toml
VOLUME ["/app/state"]
EXPOSE 8787

HEALTHCHECK --interval=60s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8787/healthz', timeout=8)"]

STOPSIGNAL SIGTERM
CMD ["mofa-monitor", "--log-format", "json", "run"]
