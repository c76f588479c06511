# syntax=docker/dockerfile:1
#
# onnxserve image: TorchServe's image layout where users touch it —
#   /home/model-server/config.properties   the config (mount your own; TS_* env vars override keys)
#   /home/model-server/model-store/        mount models here (read-only is fine)
#   /home/model-server/logs/               ts_log.log, access_log.log (LOG_LOCATION); a volume
#   /home/model-server/tmp/                TEMP/TMPDIR: archives are extracted here; a volume
#   ports 8080 inference, 8081 management, 8082 metrics
# runs as uid 1000, node as PID 1 (SIGTERM drains), production dependencies only.
#
#   docker build -t onnxserve:0.1.0 .
#   docker run --rm -p 8080:8080 -p 127.0.0.1:8081:8081 -p 8082:8082 \
#     -v "$PWD/model_store:/home/model-server/model-store:ro" onnxserve:0.1.0
#
# test/deploy/package-install.test.ts performs these same steps without a container engine.

# Pin by digest for byte-reproducible images (node:20-bookworm-slim@sha256:...). Debian (glibc), not
# Alpine: onnxruntime-node and sharp ship glibc binaries.
ARG NODE_IMAGE=node:20-bookworm-slim

# --- 1. build: compile and pack, exactly what `npm pack` publishes ------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# .npmrc sets onnxruntime-node-install=skip; the env var says the same to onnxruntime-node's
# install script: the CPU binaries ship inside the npm package, nothing is downloaded (no CUDA).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY proto ./proto
# `npm pack` runs `prepare` (= npm run build) and packs package.json + dist/ (+ src/).
RUN mkdir /pkg && npm pack --pack-destination /pkg && mv /pkg/onnxserve-*.tgz /pkg/onnxserve.tgz

# --- 2. deps: the packed project plus its production dependencies, from package-lock.json ------
FROM ${NODE_IMAGE} AS deps
WORKDIR /opt/onnxserve
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY --from=build /pkg/onnxserve.tgz /tmp/onnxserve.tgz
RUN tar -xzf /tmp/onnxserve.tgz --strip-components=1 --no-same-owner -C /opt/onnxserve && rm /tmp/onnxserve.tgz
COPY package-lock.json .npmrc ./
# --ignore-scripts: the packed package.json still has `prepare` (tsc, a dev dependency) and npm ci
# runs the root's lifecycle scripts; the only dependency install script is onnxruntime-node's, whose
# job (the CUDA download) is skipped anyway. No network is needed at run time.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && chmod 0755 dist/cli/main.js dist/cli/kserve-main.js dist/archiver/main.js

# --- 3. runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX=2: glibc keeps a malloc arena per thread and never returns memory freed by
# worker threads that ended (restarts, scaling, version switches): soak RSS +27.6 % without, +0.6 % with.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    ONNXRUNTIME_NODE_INSTALL=skip \
    LOG_LOCATION=/home/model-server/logs \
    TEMP=/home/model-server/tmp \
    TMPDIR=/home/model-server/tmp
# The application is root-owned and read-only to the server; only /home/model-server (the working
# folder: key_file.json) and its logs/ and tmp/ belong to uid 1000 (the base image's `node` user).
COPY --from=deps /opt/onnxserve /opt/onnxserve
COPY docker/healthcheck.mjs /opt/onnxserve/docker/healthcheck.mjs
COPY docker/entrypoint.sh /usr/local/bin/onnxserve-entrypoint.sh
COPY docker/config.properties /home/model-server/config.properties
RUN mkdir -p /home/model-server/model-store /home/model-server/logs /home/model-server/tmp \
 && chown 1000:1000 /home/model-server /home/model-server/model-store /home/model-server/logs /home/model-server/tmp \
 && chmod 0755 /usr/local/bin/onnxserve-entrypoint.sh \
 && ln -s /opt/onnxserve/dist/cli/main.js /usr/local/bin/onnxserve \
 && ln -s /opt/onnxserve/dist/cli/main.js /usr/local/bin/torchserve \
 && ln -s /opt/onnxserve/dist/archiver/main.js /usr/local/bin/onnxserve-archiver \
 && ln -s /opt/onnxserve/dist/archiver/main.js /usr/local/bin/torch-model-archiver
WORKDIR /home/model-server
USER 1000:1000
EXPOSE 8080 8081 8082 7070 7071
# Token authorization is on, so /ping needs the inference key: the script reads ./key_file.json.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "/opt/onnxserve/docker/healthcheck.mjs", "/ping"]
STOPSIGNAL SIGTERM
# Exec form: the script execs node, which stays PID 1 and receives SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/onnxserve-entrypoint.sh"]
CMD ["serve"]
