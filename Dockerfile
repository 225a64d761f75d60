# The harness in a container: the Locust workers of docker-compose.staging.yml run
# `harness worker` from this image. The demo service has its own image (examples/payments) and
# never imports the harness, so this one carries only the harness package and its dependencies.
#   docker build -t replay-harness .
#   docker run --rm replay-harness harness --help
FROM python:3.11-slim

RUN useradd --system --create-home harness
WORKDIR /srv/harness
# Only what `pip install .` needs; BuildKit sends just these paths of the context.
COPY pyproject.toml README.md ./
COPY harness ./harness
RUN pip install --no-cache-dir .

USER harness
WORKDIR /home/harness
CMD ["harness", "--help"]
