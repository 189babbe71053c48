# syntax=docker/dockerfile:1.7
# finsentry image: multi-stage build on node:20-slim, runs as a non-root user and works with a
# read-only root filesystem (only /tmp must be writable; the k8s Deployment mounts an emptyDir).
#
#   docker build -t finsentry:0.1.0 .                                   # CPU
#   docker build -t finsentry:0.1.0-cuda --build-arg ORT_CUDA=true \
#     --build-arg RUNTIME_IMAGE=nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04 .   # CUDA 12 (k8s/overlays/gpu)
#
# The models (models/finsentry-sentiment, models/finsentry-ner: Hugging Face/Optimum ONNX layout)
# are copied in, so a pod needs no model download at start-up.

ARG NODE_IMAGE=node:20-slim
# The runtime base: node:20-slim, or a CUDA/cuDNN runtime image for the GPU build (Node is copied in).
ARG RUNTIME_IMAGE=node:20-slim

# ---- build: compile TypeScript, then keep production dependencies only ----------------------------
FROM ${NODE_IMAGE} AS build
ARG ORT_CUDA=false
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json .npmrc ./
# onnxruntime-node's install flag (an env variable, see .npmrc): skip its CUDA download, or CUDA 12 binaries.
RUN if [ "$ORT_CUDA" = "true" ]; then ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci; else ONNXRUNTIME_NODE_INSTALL=skip npm ci; fi
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# ---- runtime -------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ENV NODE_ENV=production \
    FINSENTRY_LOG_LEVEL=info \
    NODE_OPTIONS=--enable-source-maps
RUN groupadd --system --gid 10001 finsentry \
 && useradd --system --uid 10001 --gid finsentry --home-dir /app --shell /usr/sbin/nologin finsentry
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build --chown=root:root /src/node_modules ./node_modules
COPY --from=build --chown=root:root /src/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root schemas ./schemas
COPY --chown=root:root models ./models
COPY --chown=root:root config ./config
# Files are owned by root and not writable by the runtime user: the image itself is read-only for it.
USER 10001:10001
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=3s --start-period=60s CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["run", "--config", "/app/config/finsentry.example.yaml"]
