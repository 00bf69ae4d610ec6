# rotplan in a container: a static binary on distroless (no shell, no
# package manager), run as an unprivileged user. Mount the inventory and
# pass credentials as environment variables:
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t rotplan .
#   docker run --rm -v "$PWD:/work" -e ROTPLAN_STATE_DSN rotplan plan
#
# The image has no shell: verify "exec" and target "exec" blocks that run
# sh need an image of your own built FROM this one's binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/rotplan ./cmd/rotplan

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rotplan /usr/local/bin/rotplan
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/rotplan"]
CMD ["plan"]
