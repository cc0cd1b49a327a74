# streamgate's container image: static binaries on distroless, run as non-root.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t streamgate .
#
# Base images are pinned by digest so that a rebuild of an old commit gets the
# same bases. The digests below were taken from public Dockerfiles that pin
# the same tags; they could not be resolved against the registries from the
# machine this was written on (no Docker engine, no registry access). Check
# and refresh them with:
#   crane digest golang:1.26.8-bookworm
#   crane digest gcr.io/distroless/static-debian12:nonroot

FROM golang:1.26.8-bookworm@sha256:a688600ca24f8a4d3ca77f95b0dd40704a9fc787c826660eb7ba0b641b8b175d AS build
WORKDIR /src
# Modules first, in their own layer: a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The build line of `make build`, character for character (deploy/dockerfile_test.go checks it).
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o bin/ ./cmd/streamgate ./cmd/streamgate-kube

FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /src/bin/streamgate /streamgate
# The Kubernetes tooling, which streamgate inject and webhook run; the
# webhook's Deployment runs it directly.
COPY --from=build /src/bin/streamgate-kube /streamgate-kube
# The distroless nonroot user, by number so that Kubernetes can verify runAsNonRoot.
USER 65532:65532
# 8080: the proxy (-listen); 9090: the admin API, probes and /metrics (-admin-listen).
EXPOSE 8080 9090
ENTRYPOINT ["/streamgate"]
