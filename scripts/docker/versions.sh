# shellcheck shell=bash
# Every version the container path installs or bakes in, in one place (docker/ Dockerfiles take the
# same values as build args; test/services/compose.test.ts fails if they drift).

# Compose v2, built from its Go module (Debian 12's docker-compose is v1). `go install …@v` is
# refused (its go.mod has exclude directives), so the module is downloaded and built in place.
COMPOSE_MODULE=github.com/docker/compose/v2
COMPOSE_VERSION=v2.40.3

# The Debian release every image starts from: users pull debian:bookworm-slim, the suite makes the
# same release with mmdebstrap (no image registry is reachable here).
DEBIAN_SUITE=bookworm
BASE_IMAGE_LOCAL=dataflow-lab/debian-base:bookworm
