# The infracheck container image: the static (musl) binary on an empty base, a static busybox
# as the shell (so the image works as a GitLab job image), the CA certificates, a non-root
# user, and infracheck as the entrypoint.
#
# Built from a prepared context, never from the repository root: `scripts/container.sh`
# (locally, as infracheck:local) and the release workflow (for ghcr.io, linux/amd64 and
# linux/arm64) write one:
#   <os>/<arch>/infracheck   the static binary of each platform (linux/amd64, linux/arm64)
#   ca-certificates.crt      the CA bundle, for https, TLS and the cloud APIs
#   passwd, group            name the non-root user 65532
#
# BUSYBOX_IMAGE: an image with a static busybox at /bin/busybox, for each platform built. The
# release pulls the official musl one; `scripts/container.sh` builds
# localhost/infracheck-busybox from Debian's busybox-static, offline, and passes it.
ARG BUSYBOX_IMAGE=docker.io/library/busybox:1.37.0-musl

# The applet links (`sh`, `mkdir`, `cat`, ... -> /bin/busybox) and a /tmp for every user, under
# /rootfs. Links and directories are the same on every platform, so this stage runs on the build
# machine's own platform: the only RUN steps, and no platform needs emulation.
FROM --platform=$BUILDPLATFORM ${BUSYBOX_IMAGE} AS links
WORKDIR /rootfs/bin
RUN ["/bin/busybox", "--install", "-s", "/rootfs/bin"]
# --install links `busybox` itself too, which would replace the binary with a loop.
RUN ["/bin/busybox", "rm", "/rootfs/bin/busybox"]
RUN ["/bin/busybox", "mkdir", "-m", "1777", "/rootfs/tmp"]

# The busybox binary of the platform being built (copied, never run).
FROM ${BUSYBOX_IMAGE} AS busybox

FROM scratch
# Set by the builder for each platform it builds (`--platform linux/arm64`).
ARG TARGETPLATFORM
COPY passwd group /etc/
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=busybox /bin/busybox /bin/busybox
COPY --from=links /rootfs/ /
COPY ${TARGETPLATFORM}/infracheck /usr/local/bin/infracheck
ENV PATH=/usr/local/bin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# Mount the directory with infracheck.yaml here (reports written next to it need a directory
# this user may write: `--user` to match its owner).
WORKDIR /work
USER 65532:65532
ENTRYPOINT ["infracheck"]
