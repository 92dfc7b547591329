# The product's image: `journeys worker`, `journeys api` and `journeys db upgrade` all run from
# it (docker-compose.yml). Configuration comes from the environment (.env), never the image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone: this layer is rebuilt only when they change.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The product itself.
COPY README.md ./
COPY domain ./domain
COPY infra ./infra
COPY journeys ./journeys
COPY workflows ./workflows
COPY activities ./activities
COPY starter ./starter
COPY worker.py ./
COPY tenant_workers.py ./
RUN pip install --no-deps .

# Files the product reads at run time. The migration scripts go where an installed package
# looks for them (infra/migrations.py: <prefix>/share/reminder-journeys/migrations).
COPY config ./config
COPY templates ./templates
COPY migrations /usr/local/share/reminder-journeys/migrations

# An unprivileged user; DATA_DIR is the only place it writes (the store itself is PostgreSQL).
RUN groupadd --system --gid 10001 journeys \
    && useradd --system --uid 10001 --gid journeys --home-dir /var/lib/journeys \
        --shell /usr/sbin/nologin journeys \
    && mkdir -p /var/lib/journeys \
    && chown journeys:journeys /var/lib/journeys
USER journeys

ENV DATA_DIR=/var/lib/journeys \
    POLICY_FILE=/app/config/policies.toml \
    TEMPLATES_DIR=/app/templates \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    LOG_FORMAT=json

EXPOSE 8000
# `journeys worker` and `journeys api` stop gracefully on SIGTERM (README, "Operations").
# The image runs several commands, so healthchecks are set per service (docker-compose.yml:
# GET /readyz for the API, `journeys worker-health` for workers), not here.
STOPSIGNAL SIGTERM
CMD ["journeys", "--help"]
