# Production image of opsn (not built on the development machines, which have no Docker
# engine: build it in your CI). WeasyPrint needs Pango from the system.
FROM python:3.11-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz0b fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY platform platform
COPY tenants tenants
RUN pip install --no-cache-dir . \
    && OPSN_DATA_DIR=/tmp/build DATABASE_URL=postgres://build@localhost/build \
       STATIC_ROOT=/app/static opsn collectstatic --noinput
ENV STATIC_ROOT=/app/static WHITENOISE_USE_FINDERS=false OPSN_DATA_DIR=/var/lib/opsn
RUN useradd --uid 10001 --create-home opsn && mkdir -p /var/lib/opsn && chown opsn /var/lib/opsn
USER 10001
EXPOSE 8000
CMD ["opsn", "serve", "--bind", "0.0.0.0:8000"]
