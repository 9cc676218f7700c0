# Container image of sqlite-s3-restore: a Kubernetes init container that
# restores a SQLite database from a Litestream backup in S3.
#
#   docker build -t sqlite-s3-restore:0.1.0 \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg SOURCE=https://github.com/<you>/sqlite-s3-restore .
#
# podman/buildah 4.x reuse a cached LABEL step when only a build argument
# changed, so a rebuild keeps the previous commit's revision label: with
# podman, also pass each label as `--label org.opencontainers.image.revision=...`
# (applied when the image is committed, cached or not).
#
# Base images are build arguments pinned by digest (a tag moves; a digest is
# the same bytes on every build), so the image can also be built from a mirror
# or from local images (test/e2e/image.test.ts builds it with podman FROM
# images it made itself). The runtime image must provide node (>= 22) at
# /nodejs/bin/node, as gcr.io/distroless/nodejs22-debian12 does. To move to
# newer bases, resolve the tags' current digests (`crane digest
# node:22-bookworm`, `docker buildx imagetools inspect ...`) and replace both.
ARG BUILD_IMAGE=node:22-bookworm@sha256:cd7bcd2e7a1e6f72052feb023c7f6b722205d3fcab7bbcbd2d1bfdab10b1e935
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs22-debian12:nonroot@sha256:13593b7570658e8477de39e2f4a1dd25db2f836d68a0ba771251572d23bb4f8e

# --- build: compile TypeScript and better-sqlite3, keep production deps only --
FROM ${BUILD_IMAGE} AS build
WORKDIR /app
# better-sqlite3 is compiled from source against the headers of this very node
# (node-gyp, python3, make and g++ come with node:22-bookworm) instead of
# downloading a prebuilt binary.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()" \
 # keep only the compiled addon of better-sqlite3 (drops the SQLite sources and object files)
 && mv node_modules/better-sqlite3/build/Release/better_sqlite3.node /tmp/ \
 && rm -rf node_modules/better-sqlite3/build node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && mkdir -p node_modules/better-sqlite3/build/Release \
 && mv /tmp/better_sqlite3.node node_modules/better-sqlite3/build/Release/ \
 # type declarations and source maps of dependencies are never read at run time
 && find node_modules \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -type f -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"

# --- runtime: distroless node, non-root, read-only friendly -------------------
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="sqlite-s3-restore" \
      org.opencontainers.image.description="Kubernetes init container that restores a verified SQLite database from a Litestream backup in S3" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /app
# Owned by root and not writable by the process: the tool writes only beside
# the database (data volume) and to the termination log, so the root
# filesystem can be mounted read-only.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Two malloc arenas instead of glibc's default of up to 8 per core: each arena
# keeps what its threads freed, and the peak RSS of a 1 GiB restore is 10-13 MiB
# lower with two (bench/node-flags.ts).
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2
# distroless nonroot
USER 65532:65532
# A 1 MiB young-generation semi-space (V8 grows it to 16 MiB by default): the
# restore allocates mostly short-lived buffers, and the smaller nursery keeps
# peak RSS about 25 MiB lower at no measurable cost in speed. The benchmark
# runs the CLI with the same flags (bench/node-flags.ts).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=1", "/app/dist/src/cli.js"]
CMD ["restore"]
# Last: a new commit changes only this metadata, never a cached layer above.
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
