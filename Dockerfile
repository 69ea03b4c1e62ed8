# syntax=docker/dockerfile:1
#
# cti-adapter: one static binary on a distroless base.
#
#   docker build -t cti-adapter .
#   docker run -p 8080:8080 -p 40000:40000/udp -v cti-data:/data \
#     -e CTI_PUBLIC_URL=http://localhost:8080 -e CTI_RTC_PUBLIC_IP=<host IP browsers reach> cti-adapter
#
# On the first start with an empty /data the demo account is created and its admin token is
# printed once (docker logs). Mint more tokens with:
#   docker exec <container> /cti-adapter token --account demo --role admin

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Pure Go (modernc.org/sqlite, pion): no cgo, a fully static binary.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/cti-adapter . \
 && mkdir -p /out/data

# distroless static: no shell, no package manager, no curl; user nonroot is uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cti-adapter /cti-adapter
# An empty /data owned by the runtime user: a new named volume copies this ownership.
# (A bind mount must be writable by uid 65532.)
COPY --from=build --chown=65532:65532 /out/data /data
# Media: every WebRTC leg shares one UDP port, so that one port mapping is enough; behind the
# container's NAT, CTI_RTC_PUBLIC_IP must be set to the address browsers reach.
ENV CTI_DATA_DIR=/data \
    CTI_ADDR=:8080 \
    CTI_RTC_UDP_PORT=40000
USER 65532:65532
VOLUME ["/data"]
EXPOSE 8080 40000/udp
# The image has no curl: the binary is its own probe (GET http://127.0.0.1:$CTI_ADDR/healthz,
# exit 0 on 200, 1 otherwise).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/cti-adapter", "healthcheck"]
ENTRYPOINT ["/cti-adapter"]
CMD ["serve"]
