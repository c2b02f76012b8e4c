# The slo-monitor image. One image, two roles:
#   docker run IMAGE run --config /etc/slo-monitor/slos.yaml ...   the monitor (Bytewax dataflow)
#   docker run IMAGE respond --config /etc/slo-monitor/slos.yaml   the PagerDuty responder
# Build from the repository root:  docker build -t slo-monitor:0.1.0 .
#
# Every dependency (bytewax, confluent-kafka, numpy, scipy, river, ...) ships manylinux wheels for
# CPython 3.11, so the slim image needs no compiler. bytewax 0.21.1 has no wheels past 3.12.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The project's metadata and packages only (.dockerignore keeps tests, .venv and Kafka jars out).
# These are the packages pyproject.toml's [tool.setuptools.packages.find] includes.
WORKDIR /build
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY slo ./slo
COPY flows ./flows
COPY remediation ./remediation
COPY simulator ./simulator
COPY slo_monitor ./slo_monitor

# A regular (not editable) install into site-packages; the build directory is dropped afterwards.
RUN pip install . \
    && cd / && rm -rf /build

# Run as an unprivileged user. The recovery and reports directories exist in the image and belong to
# that user, so a fresh Docker named volume mounted there inherits the ownership and is writable.
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin slo \
    && mkdir -p /var/lib/slo-monitor/recovery /var/lib/slo-monitor/reports /etc/slo-monitor \
    && chown -R 10001:10001 /var/lib/slo-monitor
USER 10001:10001
WORKDIR /var/lib/slo-monitor

# 9464: Prometheus metrics of process 0 (`--metrics-port`; process i serves PORT+i).
# 9465: the status page of process 0 (`--status-port`).
# 2101: Bytewax cluster traffic between processes (`--addresses`), in a multi-process deployment.
EXPOSE 9464 9465 2101

ENTRYPOINT ["slo-monitor"]
CMD ["--help"]
