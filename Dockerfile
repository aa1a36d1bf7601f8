# syntax=docker/dockerfile:1
# Production image of the AlertCenter router: Node.js 24 LTS, production dependencies only,
# numeric non-root user, the `alertcenter` CLI on the PATH.
#
#   docker build -t alertcenter .
#   docker run --stop-timeout 30 -e WEBHOOK_TOKENS=... -e ADMIN_TOKEN=... -e REDIS_URL=... -p 8080:8080 alertcenter
#   docker run --rm alertcenter alertcenter routing check
#
# Behind a TLS-intercepting proxy, hand npm the proxy's CA for the build only (never stored in a
# layer): docker build --secret id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt .
# scripts/container-test.sh builds and runs this file on every CI run.
ARG NODE_IMAGE=node:24-bookworm-slim

# Compile TypeScript with the dev dependencies. --ignore-scripts: the package's own `prepare`
# would run tsc before the sources are copied.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
 && npm ci --no-audit --no-fund --ignore-scripts \
 && rm -rf /root/.npm
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN node_modules/.bin/tsc -p tsconfig.build.json

# Production dependencies, installed once here so the runtime stage never runs npm (no npm logs
# or caches in the image). The package.json the image keeps has no scripts and no bin: `npx
# alertcenter` would otherwise install the package itself into npx's cache and run `prepare`
# (tsc, absent at run time); the CLI is linked instead.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm_ca \
    if [ -s /run/secrets/npm_ca ]; then export npm_config_cafile=/run/secrets/npm_ca; fi \
 && npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && npm pkg delete scripts bin devDependencies \
 && ln -s ../../bin/alertcenter.js node_modules/.bin/alertcenter \
 && rm -rf /root/.npm

FROM ${NODE_IMAGE}
# A heap ceiling well above what the router keeps (about 30 MB): without one, V8 lets garbage grow
# towards its default limit (a quarter of the host's memory) before collecting it. Raise it with the
# container's memory limit.
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 NODE_OPTIONS=--max-old-space-size=192
WORKDIR /app
COPY --from=deps /app/package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The AlertCenter page's templates and its own script and styles (htmx comes from node_modules).
COPY src/ui/views ./src/ui/views
COPY src/ui/assets ./src/ui/assets
COPY bin ./bin
COPY routing ./routing
RUN ln -s /app/bin/alertcenter.js /usr/local/bin/alertcenter
# Numeric, so Kubernetes' runAsNonRoot can verify it (uid 1000 is the base image's `node`). The
# application's files stay root's: the router writes nothing, so a read-only root filesystem works.
USER 1000:1000
EXPOSE 8080
# SIGTERM stops accepting, finishes in-flight requests and deliveries, and exits 0 within
# SHUTDOWN_TIMEOUT (25s by default): give `docker stop -t` (or `docker run --stop-timeout`) more
# than that, or Docker kills the router at 10 s (see README, "Container image").
STOPSIGNAL SIGTERM
# GET /healthz on whatever address HOST and PORT say (0.0.0.0 and :: are asked on loopback).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["node", "/app/bin/healthcheck.js"]
CMD ["node", "dist/main.js"]
