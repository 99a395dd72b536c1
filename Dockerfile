# syntax=docker/dockerfile:1
#
# sf-broker image: deps -> build -> runtime.
#   docker build -t sf-broker \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" .
#   docker run --read-only --tmpfs /tmp --stop-timeout 15 -p 3000:3000 --env-file broker.env sf-broker
# (--stop-timeout above SHUTDOWN_TIMEOUT_MS, 10 s: docker stop's own default of 10 s may cut the drain)
# broker.env: start from deploy/production/broker.env.example (Vault, Redis, principals, secrets as files).
# The Salesforce simulator and the demo are not in it (they stay in a checkout: packages/simulator,
# scripts/demo.ts); the simulator has its own image, packages/simulator/Dockerfile.
#
# Release builds pin the base image by digest, the one `docker buildx imagetools inspect
# node:22-bookworm-slim` shows on the day of the release:
#   --build-arg NODE_IMAGE=node:22-bookworm-slim@sha256:<digest>
# The default is the tag, not a digest copied from elsewhere: a digest nobody checked against
# the registry would be a pin in name only. The runtime stage records it (base.name label).
# bookworm-slim (glibc) rather than alpine: the `node` devDependency the build stage installs
# ships glibc binaries, and every production dependency is plain JavaScript either way.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- deps: every dependency, as package-lock.json pins it -------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# the client package is a workspace: its package.json makes npm link it (sfb imports it by name)
COPY packages/client/package.json ./packages/client/
# Install scripts stay on here: the `node` devDependency's preinstall fetches the Node binary
# that `npm run build` puts first on PATH. None of it reaches the runtime stage.
RUN --mount=type=cache,target=/root/.npm npm ci

# ---- build: TypeScript -> dist/ (and the client package sfb talks through -> packages/client/dist/)
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY packages/client/tsconfig.json ./packages/client/
COPY packages/client/src ./packages/client/src
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies + dist/, nothing else -----------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG NODE_IMAGE
# the package.json version; REVISION (git commit) and CREATED (RFC 3339) come from the build command
ARG VERSION=0.1.0
ARG REVISION=""
ARG CREATED=""

# OCI image annotations (github.com/opencontainers/image-spec, annotations.md)
LABEL org.opencontainers.image.title="sf-broker" \
      org.opencontainers.image.description="Credential broker for Salesforce: Vault-held secrets, Redis-cached sessions, fleet-wide lockout guard" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/example/sf-broker" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

# tini as PID 1: node run as PID 1 gets no default signal handling from the kernel, so a
# SIGTERM to a process that installed no handler (a one-off `node -e`) would be
# ignored until the 10 s kill. The broker handles SIGTERM itself (close-with-grace); tini just
# forwards it and reaps zombies, the same as `docker run --init`, but also under Kubernetes.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 sfbroker \
  && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin sfbroker

WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

COPY package.json package-lock.json ./
# Production dependencies only (jsforce is not one: the client SDK's, not the server's). The SDK is
# a workspace package whose dependencies the lockfile counts as production ones: without the
# workspaces entry npm installs what the server's own dependencies reach, nothing more. None
# has an install script, and --ignore-scripts keeps it so. Files stay root-owned: the app user
# can read, not modify, them.
# The npm cache is a build-time cache mount, so it never lands in a layer.
RUN --mount=type=cache,target=/root/.npm npm pkg delete workspaces && npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist
# sfb talks to the broker through @sf-broker/client: its package.json and build, without its dependency
# jsforce, which the client loads only when a program asks it for a jsforce Connection (sfb never does)
COPY --from=build /app/packages/client/package.json ./node_modules/@sf-broker/client/
COPY --from=build /app/packages/client/dist ./node_modules/@sf-broker/client/dist
# sfb, the admin CLI (package.json "bin"): `docker exec -e SFB_ADMIN_KEY_FILE=/run/secrets/sfb-admin-key <container> sfb health`.
# Inside the container SFB_URL defaults to this container's broker (http://127.0.0.1:$PORT); the admin key
# comes from the file SFB_ADMIN_KEY_FILE names (the chart sets it when sfb.adminKeySecret is given).
# SFB_CA_FILE, when readable, is the CA sfb trusts for a broker serving HTTPS (the chart sets it with
# tls.existingSecret); for sfb alone: the broker's own NODE_EXTRA_CA_CERTS is for its outbound calls.
RUN printf '#!/bin/sh\n: "${SFB_URL:=http://127.0.0.1:${PORT:-3000}}"\nexport SFB_URL\nif [ -r "${SFB_CA_FILE:-}" ]; then NODE_EXTRA_CA_CERTS="$SFB_CA_FILE"; export NODE_EXTRA_CA_CERTS; fi\nexec node /app/dist/cli/sfb.js "$@"\n' > /usr/local/bin/sfb && chmod 755 /usr/local/bin/sfb

# Numeric so that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001

EXPOSE 3000
STOPSIGNAL SIGTERM

# Liveness only: readiness depends on Vault and Redis and is the orchestrator's business.
# Node's own fetch, so the image needs no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live', { signal: AbortSignal.timeout(4000) }).then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Nothing is written outside /tmp at run time, so the root filesystem can be read-only.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--enable-source-maps", "dist/server.js"]
