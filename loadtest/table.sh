#!/usr/bin/env bash
# The benchmark table of docs/benchmarks.md ("The benchmark table"): builds the release
# binaries, starts `portcullis up` on a free loopback port with a temporary data
# directory and oidc-provider beside it, runs every measurement, and prints the table
# in markdown on stdout (progress goes to stderr).
#
#   loadtest/table.sh            # 20 s per cell, 3 repetitions (median), 100,000 users
#   QUICK=1 loadtest/table.sh    # a few seconds per cell, once: a smoke check
#
# Settings (environment):
#   QUICK=1              short cells, one repetition, 2,000 imported users
#   DURATION, WARMUP     length of each measured cell and of the unmeasured load before it
#   REPS                 repetitions of every cell (the table shows the median)
#   CONCURRENCY          requests (or appends) in flight in the portcullis-loadtest rows (8)
#   IMPORT_USERS         users in the CSV import job (100,000; 2,000 with QUICK=1)
#   IMPORT_REPS          imports (each into a new pool; default REPS)
#   SEED_USERS           users signed up before each sign-in cell (200; 20 with QUICK=1)
#   RESULTS              directory for the raw results (JSON lines, wrk output) and the
#                        servers' and portcullis-loadtest's logs; kept
#   TMPDIR               where the data directories go: put it on the disk to measure
#   CARGO_TARGET_DIR, PORTCULLIS_NATS_SERVER (a nats-server >= 2.12.3; else the test
#   virtualenv's, else the first recent enough one on PATH)
#
# Installs wrk, jq, curl, nodejs and npm with apt-get when missing, and oidc-provider@9
# with npm into a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "table.sh: $*" >&2; }

if [ "${QUICK:-0}" = 1 ]; then
  : "${DURATION:=2s}" "${WARMUP:=1s}" "${REPS:=1}" "${IMPORT_USERS:=2000}"
  : "${SEED_USERS:=20}" "${ARGON2_ITERATIONS:=5}"
else
  : "${DURATION:=20s}" "${WARMUP:=2s}" "${REPS:=3}" "${IMPORT_USERS:=100000}"
  : "${SEED_USERS:=200}" "${ARGON2_ITERATIONS:=50}"
fi
: "${CONCURRENCY:=8}" "${IMPORT_REPS:=$REPS}"
IDLE_SECONDS=5

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v npm >/dev/null || missing+=(nodejs npm)
if ((${#missing[@]})); then
  as_root apt-get update -q >&2
  as_root apt-get install -y -q "${missing[@]}" >&2
fi
venv="${PORTCULLIS_TEST_VENV:-$HOME/.cache/portcullis/test-venv}"
if [ -z "${PORTCULLIS_NATS_SERVER:-}" ] && [ -x "$venv/bin/nats-server" ]; then
  export PORTCULLIS_NATS_SERVER="$venv/bin/nats-server"
fi

say "building the release binaries"
cargo build --release -q -p portcullis -p portcullis-loadtest
bin="${CARGO_TARGET_DIR:-target}/release"
# portcullis-loadtest, its tables and messages going to loadtest.log.
lt() { "$bin/portcullis-loadtest" "$@" 2>>"$RESULTS/loadtest.log"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-table.XXXXXX")
RESULTS="${RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/portcullis-table-results.XXXXXX")}"
mkdir -p "$RESULTS"
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'say "failed at line $LINENO; logs and results in $RESULTS; loadtest.log ends:"
  tail -n 20 "$RESULTS/loadtest.log" >&2' ERR

# Prints the first line of log $1 matching $2, waiting up to 60 s; fails if process $3
# exits first.
wait_line() {
  local line
  for _ in $(seq 600); do
    if line=$(grep -m1 -E "$2" "$1" 2>/dev/null); then
      echo "$line"
      return 0
    fi
    if ! kill -0 "$3" 2>/dev/null; then
      cat "$1" >&2
      return 1
    fi
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}

# A JetStream preflight, so a missing nats-server shows now rather than at the end.
lt append --backend jetstream --duration 100ms --warmup 0s >/dev/null

say "installing oidc-provider@9"
oidc_dir="$work/oidc-provider"
mkdir -p "$oidc_dir"
(cd "$oidc_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund --silent oidc-provider@9)
cp loadtest/oidc-provider.mjs "$oidc_dir/server.mjs"
NODE_ENV=production PORT=0 node "$oidc_dir/server.mjs" >"$RESULTS/oidc-provider.log" 2>&1 &
oidc_pid=$!
servers+=("$oidc_pid")
oidc_port=$(wait_line "$RESULTS/oidc-provider.log" '^listening on ' "$oidc_pid" | awk '{print $3}')

say "starting portcullis up"
# The pre token generation function the refresh+pre-token cells serve (a free port).
fn_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PORTCULLIS_LAMBDA_ENDPOINT="http://127.0.0.1:$fn_port"
export PORTCULLIS_ADMIN_ACCESS_KEY_ID=bench PORTCULLIS_ADMIN_SECRET_ACCESS_KEY=benchsecret
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret
"$bin/portcullis" up --data-dir "$work/data" --http 127.0.0.1:0 --log warn >"$RESULTS/up.log" 2>&1 &
up_pid=$!
servers+=("$up_pid")
url=$(wait_line "$RESULTS/up.log" 'portcullis listening on ' "$up_pid" | sed -E 's/.*listening on ([^ ]+).*/\1/')
say "portcullis at $url (pid $up_pid), oidc-provider at 127.0.0.1:$oidc_port (pid $oidc_pid)"

# Idle RSS: one request of every kind, then quiet.
for scenario in signup signin srp refresh client-credentials refresh-grant get-user \
  identity-credentials guest-credentials decision-point; do
  lt run --url "$url" --scenario "$scenario" --concurrency 1 --users 1 --requests 1 \
    --duration 60s --json >>"$RESULTS/warm.jsonl"
done
sleep "$IDLE_SECONDS"
rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$up_pid/status")

# client_credentials with wrk, alternating between the two servers.
lt oauth-target --url "$url" >"$RESULTS/oauth-target.json"
p_token_url=$(jq -r .token_url "$RESULTS/oauth-target.json")
p_basic=$(jq -j '"\(.client_id):\(.client_secret)"' "$RESULTS/oauth-target.json" | base64 -w0)
p_body="grant_type=client_credentials&scope=$(jq -r '.scope | @uri' "$RESULTS/oauth-target.json")"
o_token_url="http://127.0.0.1:$oidc_port/token"
o_basic=$(printf 'loadtest:loadtest-secret' | base64 -w0)
o_body="grant_type=client_credentials&scope=read"

# Checks that one grant answers an RS256 JWT access token.
check_grant() {
  local answer alg
  answer=$(curl -sS -X POST -H "Authorization: Basic $2" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data "$3" "$1")
  alg=$(jq -r '.access_token // "" | split(".")[0] | gsub("-"; "+") | gsub("_"; "/")
    | ((4 - length % 4) % 4) as $pad | . + ("===" | .[0:$pad])
    | @base64d | fromjson | .alg' <<<"$answer" 2>/dev/null || true)
  if [ "$alg" != RS256 ]; then
    say "$1 did not answer an RS256 access token: $answer"
    exit 1
  fi
}
check_grant "$p_token_url" "$p_basic" "$p_body"
check_grant "$o_token_url" "$o_basic" "$o_body"

# wrk's latency with its unit, in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v) }
    else if (v ~ /m$/) { sub(/m$/, "", v); v *= 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }
    print v + 0 }'
}

# One wrk cell: server name, connections, repetition; appends a JSON line to wrk.jsonl.
wrk_cell() {
  local name=$1 connections=$2 rep=$3 token_url basic body out
  if [ "$name" = portcullis ]; then
    token_url=$p_token_url basic=$p_basic body=$p_body
  else
    token_url=$o_token_url basic=$o_basic body=$o_body
  fi
  out="$RESULTS/wrk-$name-c$connections-$rep.txt"
  WRK_BASIC=$basic WRK_BODY=$body wrk -t1 -c"$connections" -d"$DURATION" --latency \
    -s loadtest/wrk-token.lua "$token_url" >"$out"
  jq -nc --arg server "$name" --argjson connections "$connections" --argjson rep "$rep" \
    --argjson rps "$(awk '/^Requests\/sec:/ {print $2}' "$out")" \
    --argjson p50 "$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")" \
    --argjson p99 "$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")" \
    --argjson non2xx "$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out" | grep . || echo 0)" \
    --argjson socket "$(awk '/Socket errors:/ {n = 0; for (i = 3; i <= NF; i += 2) n += $(i + 1) + 0; print n}' "$out" | grep . || echo 0)" \
    '{server: $server, connections: $connections, rep: $rep, requests_per_s: $rps,
      p50_ms: $p50, p99_ms: $p99, errors: ($non2xx + $socket)}' >>"$RESULTS/wrk.jsonl"
}

for rep in $(seq "$REPS"); do
  for connections in 32 1; do
    for name in portcullis oidc-provider; do
      say "wrk client_credentials: $name, $connections connection(s), run $rep of $REPS"
      wrk_cell "$name" "$connections" "$rep"
    done
  done
done
kill "$oidc_pid"
wait "$oidc_pid" 2>/dev/null || true

for rep in $(seq "$REPS"); do
  for scenario in refresh get-user identity-credentials srp signin; do
    # Workers that sign in once need only a user each; sign-in cells take turns.
    case $scenario in srp | signin) users=$SEED_USERS ;; *) users=$CONCURRENCY ;; esac
    say "portcullis-loadtest $scenario, run $rep of $REPS"
    lt run --url "$url" --scenario "$scenario" --concurrency "$CONCURRENCY" \
      --duration "$DURATION" --warmup "$WARMUP" --users "$users" \
      --server-pid "$up_pid" --json >>"$RESULTS/run.jsonl"
  done
  say "portcullis-loadtest refresh with a pre token generation function, run $rep of $REPS"
  lt run --url "$url" --scenario refresh --concurrency "$CONCURRENCY" \
    --duration "$DURATION" --warmup "$WARMUP" --users "$CONCURRENCY" \
    --pre-token-function "127.0.0.1:$fn_port" --server-pid "$up_pid" --json \
    >>"$RESULTS/run.jsonl"
  say "argon2 pool, run $rep of $REPS"
  lt argon2 --iterations "$ARGON2_ITERATIONS" --json >>"$RESULTS/argon2.jsonl"
done

for rep in $(seq "$IMPORT_REPS"); do
  say "importing $IMPORT_USERS users, run $rep of $IMPORT_REPS"
  lt import --url "$url" --users "$IMPORT_USERS" --server-pid "$up_pid" --json \
    >>"$RESULTS/import.jsonl"
done

say "stopping portcullis up"
kill "$up_pid"
wait "$up_pid" 2>/dev/null || true

for rep in $(seq "$REPS"); do
  say "rebuilding the directory's read models from the log, run $rep of $REPS"
  lt rebuild --log "$work/data/portcullis.redb" --json >>"$RESULTS/rebuild.jsonl"
  for backend in embedded jetstream; do
    say "durable appends, $backend, run $rep of $REPS"
    lt append --backend "$backend" --concurrency "$CONCURRENCY" --duration "$DURATION" \
      --warmup "$WARMUP" --json >>"$RESULTS/append.jsonl"
  done
done

# ---- the table ----

# median FILE FILTER [SELECT]: the median of FILTER over the lines of FILE that SELECT
# keeps (the lower middle one for an even count).
median() {
  jq -s "map(select(${3:-true}) | $2) | sort | .[(length - 1) / 2 | floor]" "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v d="${2:-0}" 'BEGIN { printf "%.*f", d, v }'; }
scenario() { echo ".scenario == \"$1\""; }
wrk_sel() { echo ".server == \"$1\" and .connections == $2"; }

errors=$(
  {
    jq -s 'map(.total.errors) | add // 0' "$RESULTS/warm.jsonl" "$RESULTS/run.jsonl" \
      "$RESULTS/append.jsonl"
    jq -s 'map(.errors) | add // 0' "$RESULTS/wrk.jsonl"
  } | awk '{ n += $1 } END { print n }'
)

p32=$(median "$RESULTS/wrk.jsonl" .requests_per_s "$(wrk_sel portcullis 32)")
o32=$(median "$RESULTS/wrk.jsonl" .requests_per_s "$(wrk_sel oidc-provider 32)")
p1=$(median "$RESULTS/wrk.jsonl" .p50_ms "$(wrk_sel portcullis 1)")
o1=$(median "$RESULTS/wrk.jsonl" .p50_ms "$(wrk_sel oidc-provider 1)")
run_median() { median "$RESULTS/run.jsonl" "$2" "$(scenario "$1")"; }
argon2=$(median "$RESULTS/argon2.jsonl" .per_sec_all_threads)
signin=$(run_median signin .total.ops_per_sec)
append_cell() {
  local sel=".scenario == \"append-$1\""
  printf '%s/s (p50 %s ms, p99 %s ms)' \
    "$(fmt "$(median "$RESULTS/append.jsonl" .total.ops_per_sec "$sel")")" \
    "$(median "$RESULTS/append.jsonl" .total.p50_ms "$sel")" \
    "$(median "$RESULTS/append.jsonl" .total.p99_ms "$sel")"
}

cat <<EOF
Portcullis $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo ' (with uncommitted changes)'), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), oidc-provider $(jq -r .version "$oidc_dir/node_modules/oidc-provider/package.json") on Node $(node --version).
Cells of $DURATION (after $WARMUP of warm-up but for wrk's), median of $REPS; $CONCURRENCY requests or appends in flight in the portcullis-loadtest rows.

| measurement | result |
|---|---|
| client_credentials grant, 32 connections (wrk) | $(fmt "$p32") ops/s; oidc-provider $(fmt "$o32") ops/s; ratio $(ratio "$p32" "$o32") |
| client_credentials, 1 connection, p50 (wrk) | $p1 ms; oidc-provider $o1 ms; ratio $(ratio "$p1" "$o1") |
| REFRESH_TOKEN_AUTH | $(fmt "$(run_median refresh .total.ops_per_sec)") ops/s; server CPU $(run_median refresh .server.cpu_ms_per_op) ms/op |
| REFRESH_TOKEN_AUTH with a pre token generation function (V2, Lambda Invoke API on loopback) | $(fmt "$(run_median refresh+pre-token .total.ops_per_sec)") ops/s; server CPU $(run_median refresh+pre-token .server.cpu_ms_per_op) ms/op; p50 $(run_median refresh+pre-token .total.p50_ms) ms (without: $(run_median refresh .total.p50_ms) ms) |
| GetUser (access token) | $(fmt "$(run_median get-user .total.ops_per_sec)") ops/s; p99 $(run_median get-user .total.p99_ms) ms |
| GetId + GetCredentialsForIdentity | $(fmt "$(run_median identity-credentials .total.ops_per_sec)") pairs/s |
| SRP sign-in, server CPU | $(run_median srp .server.cpu_ms_per_op) ms/sign-in |
| password sign-in | $(fmt "$signin" 1) ops/s; argon2 pool alone $(fmt "$argon2" 1)/s (ratio $(ratio "$signin" "$argon2")); p50 $(run_median signin .total.p50_ms) ms, p99 $(run_median signin .total.p99_ms) ms |
| idle RSS of \`up\` | $(awk -v kb="$rss_kb" 'BEGIN { printf "%.1f", kb / 1024 }') MB |
| user import, CSV job $(printf "%'d" "$IMPORT_USERS") users | $(median "$RESULTS/import.jsonl" .import.users_per_s) users/s |
| event appends durable, embedded | $(append_cell embedded) |
| event appends durable, JetStream | $(append_cell jetstream) |
| read-model rebuild | $(median "$RESULTS/rebuild.jsonl" .events_per_s) events/s ($(median "$RESULTS/rebuild.jsonl" .events) events) |
EOF
say "raw results in $RESULTS"
if [ "$errors" != 0 ]; then
  say "$errors failed requests or appends: see the files in $RESULTS"
  exit 1
fi
