# The infracheck container image: the static (musl) binary on an empty base, the CA
# certificates, a non-root user, and infracheck as the entrypoint.
#
# Built from a prepared context, never from the repository root: `scripts/container.sh`
# (locally, as infracheck:local) and the release workflow (for ghcr.io, linux/amd64 and
# linux/arm64) write one:
#   <os>/<arch>/infracheck   the static binary of each platform (linux/amd64, linux/arm64)
#   ca-certificates.crt      the CA bundle, for https, TLS and the cloud APIs
#   passwd, group            name the non-root user 65532
# There is no RUN step: nothing executes while building, so every platform builds on any
# machine, without emulation and without pulling a base image.
FROM scratch
# Set by the builder for each platform it builds (`--platform linux/arm64`).
ARG TARGETPLATFORM
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY ${TARGETPLATFORM}/infracheck /usr/local/bin/infracheck
ENV PATH=/usr/local/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Mount the directory with infracheck.yaml here (reports written next to it need a directory
# this user may write: `--user` to match its owner).
WORKDIR /work
USER 65532:65532
ENTRYPOINT ["infracheck"]
