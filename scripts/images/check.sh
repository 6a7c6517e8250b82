#!/usr/bin/env bash
# Proves the five app images work, without a Docker engine (`pnpm images:check`):
#   1. lints every apps/*/Dockerfile (dockerfile-utils; any finding fails),
#   2. builds each image with buildah through shared/tools/images/build-and-run.sh and checks its
#      config (non-root user, HEALTHCHECK, exec-form ENTRYPOINT and CMD),
#   3. runs each image's --help,
#   4. runs the pipeline from the images against a private redis-server on 127.0.0.1 (the runs share
#      the host's network): producer backfill -> aggregator run --drain -> reaper once -> viewer tail,
#      and checks that every reading is counted once in the published averages and that the viewer
#      printed the newest of them,
#   5. runs the dashboard (viewer serve) from its image: the image's own HEALTHCHECK command passes,
#      and the page, its chart library and the averages API are served.
# env: IMAGES_TOOL  build-and-run.sh to use (default: ../shared/tools/images/ beside the repository,
#                   else /work/shared/tools/images/)
#      WORK, STORAGE_DRIVER  where buildah keeps images (the tool's defaults; kept between runs as a cache)
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
apps=(producer aggregator reaper alerter averages-viewer)
started=$(date +%s)
passed=0

say() { printf '[images] %s\n' "$*" >&2; }
pass() { passed=$((passed + 1)); say "ok: $*"; }
fail() {
  say "FAILED: $*"
  echo "images: $passed passed, 1 failed"
  exit 1
}
elapsed() { echo "$(($(date +%s) - started))s"; }

# --- the image tool lives outside the repository (shared/); CI has it on this machine ------------
tool=${IMAGES_TOOL:-}
if [ -z "$tool" ]; then
  for candidate in "$root/../shared/tools/images/build-and-run.sh" /work/shared/tools/images/build-and-run.sh; do
    if [ -x "$candidate" ]; then tool=$candidate; break; fi
  done
fi
{ [ -n "$tool" ] && [ -x "$tool" ]; } || fail "no build-and-run.sh (looked at ${IMAGES_TOOL:-../shared/tools/images and /work/shared/tools/images}); set IMAGES_TOOL"
tool=$(realpath "$tool")
say "image tool: $tool"

# One image store for the tool and for this script's own inspections (the tool's defaults).
if [ -z "${STORAGE_DRIVER:-}" ]; then
  if grep -qw overlay /proc/filesystems; then STORAGE_DRIVER=overlay; else STORAGE_DRIVER=vfs; fi
fi
export STORAGE_DRIVER WORK=${WORK:-${TMPDIR:-/tmp}/pipe-images}
export STORAGE_ROOT=${STORAGE_ROOT:-$WORK/storage-$STORAGE_DRIVER} RUNROOT=${RUNROOT:-$WORK/runroot-$STORAGE_DRIVER}
B() { buildah --storage-driver "$STORAGE_DRIVER" --root "$STORAGE_ROOT" --runroot "$RUNROOT" "$@"; }
tag() { echo "localhost/pipe/$1:latest"; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/pipe-images-check.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

# Runs a built image once, as build-and-run.sh runs one (ENTRYPOINT plus ARGS instead of CMD, with the
# image's USER, WORKDIR and ENV) but without its rebuild from the layer cache first, which costs more
# than the run. Output: $scratch/<name>.out (stdout) and $scratch/<name>.err (stderr).
run_image() {
  local name=$1 app=$2 rc=0 ctr
  shift 2
  mapfile -t entrypoint < <(B inspect --type image "$(tag "$app")" \
    | node -e 'for (const a of JSON.parse(require("node:fs").readFileSync(0, "utf8")).Docker.config.Entrypoint) console.log(a);')
  ctr=$(B from --pull=never "$(tag "$app")")
  B run --isolation chroot "$ctr" -- "${entrypoint[@]}" "$@" >"$scratch/$name.out" 2>"$scratch/$name.err" || rc=$?
  B rm "$ctr" >/dev/null
  return $rc
}
show() { say "--- $1 (stderr, last lines)"; grep -v -e '^-->' -e 'STEP ' -e 'Using cache' "$scratch/$1.err" | tail -n 25 >&2; }

http_get() {
  node -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(1));' "$1"
}
free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# --- 1. lint ----------------------------------------------------------------------------------
cd "$root"
[ -x node_modules/.bin/dockerfile-utils ] || node scripts/bootstrap.mjs --no-build --quiet
for app in "${apps[@]}"; do
  findings=$(node_modules/.bin/dockerfile-utils lint "apps/$app/Dockerfile" 2>&1) || true
  [ -z "$findings" ] || { printf '%s\n' "$findings" >&2; fail "dockerfile-utils lint apps/$app/Dockerfile"; }
  pass "lint apps/$app/Dockerfile"
done
# The build stages are one recipe written into each app's Dockerfile (so that each builds with a plain
# `docker build -f`): they must stay word for word the same, which is also what lets the second and later
# images take them from the layer cache.
build_stages() { sed -n '/^FROM .* AS base$/,/^FROM .* AS deploy$/p' "apps/$1/Dockerfile"; }
for app in "${apps[@]:1}"; do
  diff <(build_stages "${apps[0]}") <(build_stages "$app") >&2 || fail "the build stages of apps/$app/Dockerfile differ from apps/${apps[0]}/Dockerfile"
done
pass "the five Dockerfiles share one build recipe"

# --- 2. build and inspect -----------------------------------------------------------------------
"$(dirname "$tool")/make-base-image.sh" >/dev/null
for app in "${apps[@]}"; do
  t0=$(date +%s)
  SKIP_BASE=1 "$tool" --no-run -f "apps/$app/Dockerfile" -t "$(tag "$app")" "$root" >/dev/null 2>"$scratch/build-$app.err" \
    || { show "build-$app"; fail "build apps/$app/Dockerfile"; }
  pass "built $(tag "$app") in $(($(date +%s) - t0))s"
  # User, entrypoint, command and healthcheck as the image records them (docker format config).
  # shellcheck disable=SC2016 # JavaScript template literal, not shell
  problems=$(B inspect --type image "$(tag "$app")" | node -e '
    const image = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
    const c = image.Docker.config;
    const problems = [];
    if (!c.User || ["root", "0"].includes(c.User.split(":")[0])) problems.push(`runs as ${c.User || "root"}`);
    if (!c.Healthcheck?.Test || c.Healthcheck.Test[0] !== "CMD") problems.push("no exec-form HEALTHCHECK");
    if (!Array.isArray(c.Entrypoint) || c.Entrypoint[0] !== "node") problems.push("ENTRYPOINT is not exec-form node");
    if (!Array.isArray(c.Cmd) || c.Cmd.length === 0) problems.push("no default CMD");
    if (c.Cmd?.[0] === "/bin/sh" || c.Entrypoint?.[0] === "/bin/sh") problems.push("shell-form CMD or ENTRYPOINT");
    if (image.Docker.config.Env.every((e) => !e.startsWith("METRICS_PORT="))) problems.push("no METRICS_PORT for the healthcheck");
    console.log(problems.join("; "));')
  [ -z "$problems" ] || fail "$(tag "$app"): $problems"
  pass "$(tag "$app") runs as a non-root user with an exec-form ENTRYPOINT/CMD and a HEALTHCHECK"
done
say "built and inspected in $(elapsed)"

# --- 3. --help from every image -----------------------------------------------------------------
for app in "${apps[@]}"; do
  run_image "help-$app" "$app" --help || { show "help-$app"; fail "$app --help exited non-zero"; }
  grep -q '^Usage: pipe-' "$scratch/help-$app.out" || { cat "$scratch/help-$app.out" >&2; fail "$app --help printed no usage"; }
  pass "$app --help from the image"
done

# --- 4. the pipeline from the images -------------------------------------------------------------
redis_port=$(free_port)
mkdir "$scratch/redis"
setsid redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$scratch/redis" --save '' --appendonly no \
  >"$scratch/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p "$redis_port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
R() { redis-cli -p "$redis_port" "$@"; }
R ping | grep -q PONG || fail "redis-server did not start on 127.0.0.1:$redis_port"
redis=(--redis-url "redis://127.0.0.1:$redis_port")
# Port 0: the image's METRICS_PORT (9464) may be in use on this host, whose network the runs share.
metrics=(--metrics-port 0)

run_image backfill producer backfill "${redis[@]}" "${metrics[@]}" --devices 3 --interval 5m \
  || { show backfill; fail "producer backfill from the image"; }
readings=0
for partition in $(R --scan --pattern 'temps:2*'); do readings=$((readings + $(R xlen "$partition"))); done
[ "$readings" -gt 0 ] || fail "the producer image wrote no readings"
pass "producer backfill from the image wrote $readings readings"

run_image drain aggregator run --drain "${redis[@]}" "${metrics[@]}" || { show drain; fail "aggregator run --drain from the image"; }
hours=$(R xlen temps:averages)
[ "$hours" -gt 0 ] || { show drain; fail "the aggregator image published no averages"; }
counted=$(R xrange temps:averages - + | awk 'prev == "num_observations" { sum += $0 } { prev = $0 } END { print sum + 0 }')
[ "$counted" -eq "$readings" ] || fail "the $hours published averages count $counted readings, the producer wrote $readings"
pass "aggregator run --drain from the image published $hours hourly averages counting all $counted readings"

run_image reap reaper once --json "${redis[@]}" || { show reap; fail "reaper once from the image"; }
node -e 'JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"))' "$scratch/reap.out" \
  || { cat "$scratch/reap.out" >&2; fail "reaper once printed no JSON summary"; }
pass "reaper once from the image: $(tr -d '\n' <"$scratch/reap.out")"

shown=5
run_image tail averages-viewer tail --last "$shown" --json "${redis[@]}" || { show tail; fail "viewer tail from the image"; }
newest=$(R xrevrange temps:averages + - COUNT "$shown" | grep -E '^[0-9]+-0$' | sed 's/-0$//' | sort -n | paste -sd ' ')
printed=$(node -e '
  const lines = require("node:fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
  console.log(lines.map((l) => JSON.parse(l).hourStart).join(" "));' "$scratch/tail.out") \
  || { cat "$scratch/tail.out" >&2; fail "viewer tail printed something other than JSON lines"; }
[ "$printed" = "$newest" ] || fail "viewer tail printed hours [$printed], the newest $shown are [$newest]"
pass "viewer tail from the image printed the newest $(wc -l <"$scratch/tail.out") averages"

# --- 5. the dashboard from its image ------------------------------------------------------------
web_port=$(free_port)
health_port=$(free_port)
setsid "$tool" -f apps/averages-viewer/Dockerfile -t "$(tag averages-viewer)" "$root" -- \
  serve --port "$web_port" "${redis[@]}" --metrics-port "$health_port" >"$scratch/serve.out" 2>"$scratch/serve.err" &
pids+=($!)
for _ in $(seq 100); do
  http_get "http://127.0.0.1:$health_port/healthz" >/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { show serve; fail "viewer serve from the image exited"; }
  sleep 0.2
done
# The image's own HEALTHCHECK command, run inside the image with the port this run uses.
mapfile -t healthcheck < <(B inspect --type image "$(tag averages-viewer)" \
  | node -e 'const t = JSON.parse(require("node:fs").readFileSync(0, "utf8")).Docker.config.Healthcheck.Test;
    for (const a of t.slice(1)) console.log(a);')
probe=$(B from --pull=never "$(tag averages-viewer)")
probe_rc=0
B run --isolation chroot --env "METRICS_PORT=$health_port" "$probe" -- "${healthcheck[@]}" >&2 || probe_rc=$?
B rm "$probe" >/dev/null
[ "$probe_rc" -eq 0 ] || { show serve; fail "the viewer image's HEALTHCHECK failed (exit $probe_rc)"; }
pass "the viewer image's HEALTHCHECK passes while it serves"
web="http://127.0.0.1:$web_port"
http_get "$web/" | grep -qi '<html' || fail "the dashboard page from the image"
http_get "$web/vendor/uPlot.iife.min.js" | grep -q uPlot || fail "the chart library (uplot) from the image"
served=$(http_get "$web/api/averages?limit=$shown" | node -e 'console.log(JSON.parse(require("node:fs").readFileSync(0, "utf8")).count)')
[ "$served" -eq "$shown" ] || fail "the dashboard API served $served averages, not $shown"
pass "viewer serve from the image: page, chart library and averages API on $web"

say "all checks in $(elapsed)"
echo "images: $passed passed, 0 failed"
