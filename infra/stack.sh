#!/usr/bin/env bash
# Tollgate local stack: the real services our apps and integration tests talk to, without Docker.
#
#   bash infra/stack.sh install              install what is missing (apt, Maven Central, Go proxy, PyPI)
#   bash infra/stack.sh up [service...]      install if needed, start, wait on a real probe
#   bash infra/stack.sh down [service...]    stop gracefully; data is kept
#   bash infra/stack.sh start|stop SERVICE   one service
#   bash infra/stack.sh pause|resume SERVICE SIGSTOP/SIGCONT, to simulate a stalled service
#   bash infra/stack.sh status               one line per service
#   bash infra/stack.sh logs [service] [-f]  tail the logs (-f: follow)
#   bash infra/stack.sh reset                down, then wipe all data (installed things are kept)
#   bash infra/stack.sh env                  the variables apps use, KEY=value, export-able
#   bash infra/stack.sh kafka-topics ARGS    Kafka's topic tool against our broker (--list, --create...)
#
# Services: postgres redis clickhouse kafka stripe-mock. Everything binds to 127.0.0.1 and lives in
# one state dir, $TOLLGATE_STATE_DIR (default <repo>/.tollgate); downloads live in
# $TOLLGATE_CACHE_DIR (default <state>/cache) so a private stack can reuse them.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
INFRA_DIR="$REPO_DIR/infra"

STATE_DIR="${TOLLGATE_STATE_DIR:-$REPO_DIR/.tollgate}"
CACHE_DIR="${TOLLGATE_CACHE_DIR:-$STATE_DIR/cache}"

PG_PORT="${TOLLGATE_PG_PORT:-55432}"
REDIS_PORT="${TOLLGATE_REDIS_PORT:-56379}"
CH_HTTP_PORT="${TOLLGATE_CLICKHOUSE_HTTP_PORT:-58123}"
CH_TCP_PORT="${TOLLGATE_CLICKHOUSE_TCP_PORT:-59000}"
KAFKA_PORT="${TOLLGATE_KAFKA_PORT:-59092}"
KAFKA_CONTROLLER_PORT="${TOLLGATE_KAFKA_CONTROLLER_PORT:-59093}"
STRIPE_PORT="${TOLLGATE_STRIPE_MOCK_PORT:-12111}"
STRIPE_HTTPS_PORT="${TOLLGATE_STRIPE_MOCK_HTTPS_PORT:-12112}"

ALL_SERVICES=(postgres redis clickhouse kafka stripe-mock)

PG_VERSION=15
KAFKA_VERSION=3.9.1
STRIPE_MOCK_VERSION=v0.203.0 # newest on the Go proxy when pinned (go list -m -versions)
# KRaft needs a cluster id (a base64 UUID); a fixed one keeps re-formatting deterministic.
KAFKA_CLUSTER_ID=dG9sbGdhdGUtbG9jYWwtMQ # base64url("tollgate-local-1")

DATA_DIR="$STATE_DIR/data"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
CONF_DIR="$STATE_DIR/conf"
KAFKA_LIBS="$CACHE_DIR/kafka-libs"
BIN_DIR="$CACHE_DIR/bin"

# ---------------------------------------------------------------------------------------------
# small helpers

say() { echo "tollgate stack: $*"; }
die() {
  echo "tollgate stack: $*" >&2
  exit 1
}

is_root() { [[ $EUID -eq 0 ]]; }

pg_bin() {
  if [[ -x /usr/lib/postgresql/$PG_VERSION/bin/initdb ]]; then
    echo "/usr/lib/postgresql/$PG_VERSION/bin"
  else
    dirname "$(command -v initdb)"
  fi
}

# Postgres refuses to run as root: when we are root, run it as an unprivileged OS user.
pg_os_user() {
  if ! is_root; then
    id -un
  elif id -u postgres >/dev/null 2>&1; then
    echo postgres
  else
    echo tollgate
  fi
}

as_pg_user() {
  if is_root; then runuser -u "$(pg_os_user)" -- "$@"; else "$@"; fi
}

now() { date +%s; }

# True when something accepts TCP connections on 127.0.0.1:$1 (covers 0.0.0.0 and :: listeners).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# ClickHouse also writes stdout.log/stderr.log beside its log: it gets a folder of its own.
log_file() {
  case "$1" in
    clickhouse) echo "$LOG_DIR/clickhouse/clickhouse.log" ;;
    *) echo "$LOG_DIR/$1.log" ;;
  esac
}

env_lines() {
  cat <<EOF
DATABASE_URL=postgres://tollgate:tollgate@127.0.0.1:$PG_PORT/tollgate
REDIS_URL=redis://127.0.0.1:$REDIS_PORT
CLICKHOUSE_URL=http://127.0.0.1:$CH_HTTP_PORT
CLICKHOUSE_DATABASE=tollgate
KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
STRIPE_API_BASE=http://127.0.0.1:$STRIPE_PORT
EOF
}

ports_of() {
  case "$1" in
    postgres) echo "$PG_PORT" ;;
    redis) echo "$REDIS_PORT" ;;
    clickhouse) echo "$CH_HTTP_PORT $CH_TCP_PORT" ;;
    kafka) echo "$KAFKA_PORT $KAFKA_CONTROLLER_PORT" ;;
    stripe-mock) echo "$STRIPE_PORT $STRIPE_HTTPS_PORT" ;;
  esac
}

port_var_of() {
  case "$1:$2" in
    postgres:*) echo TOLLGATE_PG_PORT ;;
    redis:*) echo TOLLGATE_REDIS_PORT ;;
    clickhouse:"$CH_HTTP_PORT") echo TOLLGATE_CLICKHOUSE_HTTP_PORT ;;
    clickhouse:*) echo TOLLGATE_CLICKHOUSE_TCP_PORT ;;
    kafka:"$KAFKA_PORT") echo TOLLGATE_KAFKA_PORT ;;
    kafka:*) echo TOLLGATE_KAFKA_CONTROLLER_PORT ;;
    stripe-mock:"$STRIPE_PORT") echo TOLLGATE_STRIPE_MOCK_PORT ;;
    stripe-mock:*) echo TOLLGATE_STRIPE_MOCK_HTTPS_PORT ;;
  esac
}

check_service_name() {
  local svc
  for svc in "${ALL_SERVICES[@]}"; do [[ $svc == "$1" ]] && return 0; done
  die "unknown service '$1' (services: ${ALL_SERVICES[*]})"
}

# Services named on the command line, or all of them.
services_from_args() {
  if [[ $# -eq 0 ]]; then
    printf '%s\n' "${ALL_SERVICES[@]}"
    return
  fi
  local svc
  for svc in "$@"; do
    check_service_name "$svc"
    echo "$svc"
  done
}

ensure_layout() {
  mkdir -p "$STATE_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR" "$CONF_DIR" "$CACHE_DIR"
  # The postgres OS user must be able to reach its data dir (mktemp dirs are 0700).
  chmod 755 "$STATE_DIR" "$DATA_DIR" "$LOG_DIR" "$RUN_DIR"
}

# One `up`/`down` at a time per state dir: parallel test workers may call us together.
lock_state() {
  mkdir -p "$STATE_DIR"
  exec 8>"$STATE_DIR/.stack.lock"
  flock 8
}

# ---------------------------------------------------------------------------------------------
# process bookkeeping

pid_file() {
  case "$1" in
    postgres) echo "$DATA_DIR/postgres/postmaster.pid" ;; # written by postgres itself
    *) echo "$RUN_DIR/$1.pid" ;;
  esac
}

# What the process of a service looks like in /proc, so a stale pid file never matches a stranger.
proc_pattern() {
  case "$1" in
    postgres) echo postgres ;;
    redis) echo redis-server ;;
    clickhouse) echo clickhouse ;;
    kafka) echo java ;;
    stripe-mock) echo stripe-mock ;;
  esac
}

# Process state letter (R, S, T = stopped by a signal, Z = zombie); the comm field may hold spaces.
proc_state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }

# Alive and not a zombie: our daemons are reparented to an init that may reap them late.
alive() {
  local state
  state="$(proc_state "$1")"
  [[ -n $state && $state != Z ]]
}

# Prints the pid of a running service, or fails.
service_pid() {
  local file pid
  file="$(pid_file "$1")"
  [[ -f $file ]] || return 1
  pid="$(head -n1 "$file" 2>/dev/null | tr -dc '0-9')"
  [[ -n $pid ]] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(proc_pattern "$1")" || return 1
  echo "$pid"
}

is_running() { service_pid "$1" >/dev/null; }

is_paused() {
  local pid
  pid="$(service_pid "$1")" || return 1
  [[ "$(proc_state "$pid")" == T ]]
}

# A pid and all its descendants (postgres and clickhouse fork workers).
process_tree() {
  local child
  echo "$1"
  for child in $(pgrep -P "$1" || true); do process_tree "$child"; done
}

signal_tree() {
  local pid
  for pid in $(process_tree "$2"); do kill "-$1" "$pid" 2>/dev/null || true; done
}

wait_gone() { # pid deadline_seconds
  local deadline=$(($(now) + $2))
  while alive "$1"; do
    (($(now) < deadline)) || return 1
    sleep 0.2
  done
}

# SIGTERM, wait, then SIGKILL: the graceful stop for services without their own stop command.
terminate() { # svc pid deadline_seconds
  kill -TERM "$2" 2>/dev/null || true
  if ! wait_gone "$2" "$3"; then
    say "$1 did not stop within $3 s, sending SIGKILL"
    signal_tree KILL "$2"
    wait_gone "$2" 10 || die "$1 (pid $2) survived SIGKILL"
  fi
}

# ---------------------------------------------------------------------------------------------
# install

apt_updated=0
apt_install() {
  if ((apt_updated == 0)); then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# A Debian package counts as present when the file we use from it exists.
install_debian() {
  local missing=() pkg file
  while read -r pkg file; do
    [[ -e $file ]] || missing+=("$pkg")
  done <<EOF
$*
EOF
  ((${#missing[@]} == 0)) || apt_install "${missing[@]}"
}

install_kafka() {
  [[ -f $KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar ]] && return 0
  command -v mvn >/dev/null || apt_install maven
  say "fetching Apache Kafka $KAFKA_VERSION jars from Maven Central"
  local tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"
  local out
  if ! out="$(mvn -q -B -Dstyle.color=never -f "$INFRA_DIR/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1)"; then
    echo "$out" >&2
    die "mvn could not fetch the Kafka jars"
  fi
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS" # atomic: a half download never looks installed
}

install_stripe_mock() {
  # `go install` binaries report version "master", so a marker file records what we built.
  local marker="$BIN_DIR/stripe-mock.version"
  [[ -x $BIN_DIR/stripe-mock && "$(cat "$marker" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]] && return 0
  command -v go >/dev/null || die "go is required to install stripe-mock"
  say "installing stripe-mock $STRIPE_MOCK_VERSION from the Go module proxy"
  mkdir -p "$BIN_DIR"
  GOBIN="$BIN_DIR" GOFLAGS=-buildvcs=false go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
  echo "$STRIPE_MOCK_VERSION" >"$marker"
}

# install [service...]: with no argument, also the tools e2e and bench need (chromium, wrk,
# schemathesis, and nginx: the gateway bench's C proxy baseline, which the bench runs from its own
# config on a free port; the packaged service is not used).
cmd_install() {
  local svcs
  mapfile -t svcs < <(services_from_args "$@")
  mkdir -p "$CACHE_DIR"
  exec 7>"$CACHE_DIR/.install.lock" # private stacks share the cache: install once
  flock 7
  local debs=() svc
  for svc in "${svcs[@]}"; do
    case "$svc" in
      postgres)
        debs+=("postgresql /usr/lib/postgresql/$PG_VERSION/bin/initdb" "postgresql-client /usr/bin/psql")
        ;;
      redis) debs+=("redis-server /usr/bin/redis-server" "redis-tools /usr/bin/redis-cli") ;;
      clickhouse)
        debs+=("clickhouse-server /usr/sbin/clickhouse-server" "clickhouse-client /usr/bin/clickhouse-client")
        ;;
      kafka) debs+=("default-jre-headless /usr/bin/java") ;;
    esac
  done
  if [[ $# -eq 0 ]]; then debs+=("chromium /usr/bin/chromium" "wrk /usr/bin/wrk" "nginx /usr/sbin/nginx"); fi
  debs+=("curl /usr/bin/curl")
  install_debian "$(printf '%s\n' "${debs[@]}")"
  for svc in "${svcs[@]}"; do
    case "$svc" in
      kafka) install_kafka ;;
      stripe-mock) install_stripe_mock ;;
    esac
  done
  exec 7>&- # release the install lock
  # The contract tests' fuzzer (PyPI, pinned); it takes its own lock.
  if [[ $# -eq 0 ]]; then TOLLGATE_CACHE_DIR="$CACHE_DIR" bash "$INFRA_DIR/schemathesis.sh" --install >/dev/null; fi
}

# ---------------------------------------------------------------------------------------------
# postgres: a private cluster (initdb) owned by an unprivileged OS user

pg_data() { echo "$DATA_DIR/postgres"; }
pg_socket_dir() { echo "$RUN_DIR/postgres"; }

pg_ensure_os_user() {
  is_root || return 0
  id -u "$(pg_os_user)" >/dev/null 2>&1 && return 0
  useradd --system --no-create-home --shell /usr/sbin/nologin tollgate
}

pg_init() {
  local data owner pwfile
  data="$(pg_data)"
  owner="$(pg_os_user)"
  mkdir -p "$(pg_socket_dir)"
  touch "$(log_file postgres)"
  chown "$owner" "$(pg_socket_dir)" "$(log_file postgres)"
  [[ -f $data/PG_VERSION ]] && return 0
  say "initdb $data"
  mkdir -p "$data"
  chown "$owner" "$data"
  chmod 700 "$data"
  pwfile="$(mktemp)"
  echo tollgate >"$pwfile"
  chmod 644 "$pwfile"
  # The bootstrap superuser is `tollgate` itself: tests create schemas and databases.
  # Sockets trust local users; TCP needs the password, like a real deployment.
  as_pg_user "$(pg_bin)/initdb" -D "$data" --username=tollgate --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >>"$(log_file postgres)"
  rm -f "$pwfile"
}

pg_start() {
  pg_ensure_os_user
  pg_init
  # Ports and paths go on the command line so a changed env var wins over an old config.
  local opts="-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$(pg_socket_dir)"
  opts+=" -c max_connections=200" # parallel test workers each hold a pool
  as_pg_user "$(pg_bin)/pg_ctl" start -W -D "$(pg_data)" -l "$(log_file postgres)" -o "$opts" >/dev/null
}

pg_probe() {
  "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 2 || return 1
  # First start: create the app database (over the socket, as the bootstrap superuser).
  local admin=(psql -h "$(pg_socket_dir)" -p "$PG_PORT" -U tollgate -d postgres)
  if [[ "$("${admin[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = 'tollgate'" 2>/dev/null)" != 1 ]]; then
    "${admin[@]}" -qc 'CREATE DATABASE tollgate' >/dev/null 2>&1 || return 1
  fi
  [[ "$(psql "postgres://tollgate:tollgate@127.0.0.1:$PG_PORT/tollgate" -tAc 'SELECT 1' 2>/dev/null)" == 1 ]]
}

pg_stop() {
  as_pg_user "$(pg_bin)/pg_ctl" stop -D "$(pg_data)" -m fast -w -t 30 >/dev/null
}

# ---------------------------------------------------------------------------------------------
# redis: append-only file so data survives down/up

redis_start() {
  mkdir -p "$DATA_DIR/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA_DIR/redis" \
    --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$(pid_file redis)" --logfile "$(log_file redis)" </dev/null >/dev/null
}

redis_probe() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>/dev/null)" == PONG ]]; }

redis_stop() {
  local pid=$1
  # SHUTDOWN fsyncs the append-only file; fall back to SIGTERM (same effect) if it fails.
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SHUTDOWN >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 30 || terminate redis "$pid" 1
}

# ---------------------------------------------------------------------------------------------
# clickhouse 18.16: our own config, only two ports, only 127.0.0.1

ch_write_config() {
  local dir="$CONF_DIR/clickhouse" data="$DATA_DIR/clickhouse"
  mkdir -p "$dir" "$data" "$LOG_DIR/clickhouse"
  cat >"$dir/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by infra/stack.sh: edits are overwritten on every start. -->
<yandex>
  <logger>
    <level>information</level>
    <log>$(log_file clickhouse)</log>
    <errorlog>$LOG_DIR/clickhouse/clickhouse.err.log</errorlog>
    <size>100M</size>
    <count>3</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$CH_HTTP_PORT</http_port>
  <tcp_port>$CH_TCP_PORT</tcp_port>
  <!-- No interserver, https, secure-tcp or mysql ports: a single local node needs none. -->
  <max_connections>1024</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$data/</path>
  <tmp_path>$data/tmp/</tmp_path>
  <user_files_path>$data/user_files/</user_files_path>
  <format_schema_path>$data/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
  <max_table_size_to_drop>0</max_table_size_to_drop>
  <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  cat >"$dir/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by infra/stack.sh: local development only (user default, no password). -->
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
      <use_uncompressed_cache>0</use_uncompressed_cache>
      <load_balancing>random</load_balancing>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks>
        <ip>127.0.0.1</ip>
        <ip>::1</ip>
      </networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas>
    <default>
      <interval>
        <duration>3600</duration>
        <queries>0</queries>
        <errors>0</errors>
        <result_rows>0</result_rows>
        <read_rows>0</read_rows>
        <execution_time>0</execution_time>
      </interval>
    </default>
  </quotas>
</yandex>
EOF
}

ch_query() { curl -sS --max-time 5 "http://127.0.0.1:$CH_HTTP_PORT/" --data-binary "$1"; }

ch_start() {
  ch_write_config
  # --daemon forks into the background and writes the pid file itself.
  clickhouse-server --config-file="$CONF_DIR/clickhouse/config.xml" --pid-file="$(pid_file clickhouse)" \
    --daemon </dev/null >>"$(log_file clickhouse)" 2>&1
}

ch_probe() {
  [[ "$(ch_query 'SELECT 1' 2>/dev/null)" == 1 ]] || return 1
  ch_query 'CREATE DATABASE IF NOT EXISTS tollgate' >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# kafka 3.9.1, KRaft combined mode (broker + controller in one JVM)

# A short-lived Kafka CLI (storage formatter, topic tool): small heap, quick JIT, bounded time.
kafka_tool() { # main-class args...
  timeout 60 java -Xms32m -Xmx256m -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true \
    -Dlog4j.configuration="file:$INFRA_DIR/kafka/log4j.properties" -cp "$KAFKA_LIBS/*" "$@"
}

kafka_write_config() {
  mkdir -p "$CONF_DIR/kafka" "$DATA_DIR/kafka"
  cat >"$CONF_DIR/kafka/server.properties" <<EOF
# Generated by infra/stack.sh: edits are overwritten on every start.
node.id=1
process.roles=broker,controller
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$DATA_DIR/kafka
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50: the first consumer group is ready sooner.
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
EOF
}

kafka_start() {
  kafka_write_config
  local props="$CONF_DIR/kafka/server.properties"
  # KRaft log dirs must be formatted once; meta.properties marks a formatted dir.
  if [[ ! -f $DATA_DIR/kafka/meta.properties ]]; then
    kafka_tool kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$props" --ignore-formatted \
      >>"$(log_file kafka)" 2>&1 || fail_start kafka "could not format its log dir"
  fi
  setsid java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    -Dlog4j.configuration="file:$INFRA_DIR/kafka/log4j.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$props" </dev/null >>"$(log_file kafka)" 2>&1 &
  echo $! >"$(pid_file kafka)"
}

# A metadata request (list topics). The cheap port check first avoids starting a JVM per poll.
kafka_probe() {
  port_open "$KAFKA_PORT" || return 1
  kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# stripe-mock: stateless, validates requests against Stripe's OpenAPI spec

stripe_start() {
  setsid "$BIN_DIR/stripe-mock" -http-addr "127.0.0.1:$STRIPE_PORT" -https-addr "127.0.0.1:$STRIPE_HTTPS_PORT" \
    </dev/null >>"$(log_file stripe-mock)" 2>&1 &
  echo $! >"$(pid_file stripe-mock)"
}

stripe_probe() {
  curl -sf --max-time 2 -H 'Authorization: Bearer sk_test_123' "http://127.0.0.1:$STRIPE_PORT/v1/customers" \
    >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# generic lifecycle

# Daemons must not inherit our lock descriptors (7, 8): they would hold the locks forever.
start_service() {
  start_service_now "$1" </dev/null 7>&- 8>&-
}

start_service_now() {
  case "$1" in
    postgres) pg_start ;;
    redis) redis_start ;;
    clickhouse) ch_start ;;
    kafka) kafka_start ;;
    stripe-mock) stripe_start ;;
  esac
}

probe_service() {
  case "$1" in
    postgres) pg_probe ;;
    redis) redis_probe ;;
    clickhouse) ch_probe ;;
    kafka) kafka_probe ;;
    stripe-mock) stripe_probe ;;
  esac
}

startup_deadline() { if [[ $1 == kafka ]]; then echo 60; else echo 30; fi; }

# Poll the real probe until it answers; on timeout (or early exit) show the log and fail.
wait_ready() {
  local svc=$1 seconds deadline seen_running=0
  seconds="$(startup_deadline "$svc")"
  deadline=$(($(now) + seconds))
  until probe_service "$svc"; do
    # Daemons write their pid file a moment after we launch them: only a pid seen alive, then
    # gone, means the service died.
    if is_running "$svc"; then
      seen_running=1
    elif ((seen_running)); then
      fail_start "$svc" "exited during startup"
    fi
    (($(now) < deadline)) || fail_start "$svc" "did not answer its probe within $seconds s"
    sleep 0.3
  done
}

fail_start() { # svc reason
  echo "tollgate stack: $1 $2; last lines of $(log_file "$1"):" >&2
  tail -n 40 "$(log_file "$1")" >&2 || true
  exit 1
}

# Fail fast, before starting anything, when a port belongs to someone else.
check_ports_free() {
  local svc port
  for svc in "$@"; do
    is_running "$svc" && continue
    for port in $(ports_of "$svc"); do
      if port_open "$port"; then
        die "port $port for $svc is already in use by another process" \
          "(set $(port_var_of "$svc" "$port") to use another)"
      fi
    done
  done
}

stop_service() {
  local svc=$1 pid
  pid="$(service_pid "$svc")" || return 0
  say "stopping $svc (pid $pid)"
  signal_tree CONT "$pid" # a paused process cannot act on a stop request
  case "$svc" in
    postgres) pg_stop || terminate postgres "$pid" 30 ;;
    redis) redis_stop "$pid" ;;
    kafka) terminate kafka "$pid" 45 ;; # controlled shutdown takes a few seconds
    *) terminate "$svc" "$pid" 30 ;;
  esac
  rm -f "$RUN_DIR/$svc.pid"
}

print_summary() {
  cat <<EOF
tollgate stack is up (state: $STATE_DIR)
  postgres     postgres://tollgate:tollgate@127.0.0.1:$PG_PORT/tollgate
  redis        redis://127.0.0.1:$REDIS_PORT
  clickhouse   http://127.0.0.1:$CH_HTTP_PORT (native 127.0.0.1:$CH_TCP_PORT, database tollgate)
  kafka        127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT)
  stripe-mock  http://127.0.0.1:$STRIPE_PORT (https 127.0.0.1:$STRIPE_HTTPS_PORT)
  env          $STATE_DIR/stack.env  (eval "\$(bash infra/stack.sh env | sed 's/^/export /')")
EOF
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_up() {
  local svcs svc
  mapfile -t svcs < <(services_from_args "$@")
  lock_state
  ensure_layout
  check_ports_free "${svcs[@]}"
  cmd_install "$@"
  for svc in "${svcs[@]}"; do
    if is_running "$svc"; then
      is_paused "$svc" && signal_tree CONT "$(service_pid "$svc")"
      continue
    fi
    say "starting $svc"
    start_service "$svc"
  done
  # Started first, waited on after: the services boot in parallel.
  for svc in "${svcs[@]}"; do wait_ready "$svc"; done
  env_lines >"$STATE_DIR/stack.env"
  print_summary
}

cmd_down() {
  local svcs svc
  mapfile -t svcs < <(services_from_args "$@")
  lock_state
  for svc in "${svcs[@]}"; do stop_service "$svc"; done
}

cmd_pause_resume() { # STOP|CONT service
  [[ $# -eq 2 ]] || die "usage: stack.sh pause|resume SERVICE"
  check_service_name "$2"
  local pid
  pid="$(service_pid "$2")" || die "$2 is not running"
  signal_tree "$1" "$pid"
}

cmd_status() {
  local svc pid state
  for svc in "${ALL_SERVICES[@]}"; do
    if pid="$(service_pid "$svc")"; then
      state=running
      is_paused "$svc" && state=paused
    else
      state=stopped
      pid=-
    fi
    printf '%-12s %-8s pid=%-8s port=%s\n' "$svc" "$state" "$pid" "$(ports_of "$svc" | tr ' ' ',')"
  done
}

cmd_logs() { # [service] [-f]
  local files=() svc follow=()
  if [[ ${*: -1} == -f ]]; then
    follow=(-F)
    set -- "${@:1:$#-1}"
  fi
  if [[ $# -eq 0 ]]; then
    for svc in "${ALL_SERVICES[@]}"; do [[ -f $(log_file "$svc") ]] && files+=("$(log_file "$svc")"); done
  else
    check_service_name "$1"
    files=("$(log_file "$1")")
  fi
  ((${#files[@]} > 0)) || die "no logs yet in $LOG_DIR"
  tail -n 50 "${follow[@]}" "${files[@]}"
}

cmd_reset() {
  cmd_down
  # Keep the cache (jars, binaries) even when it lives inside the state dir.
  rm -rf "$DATA_DIR" "$LOG_DIR" "$RUN_DIR" "$CONF_DIR" "$STATE_DIR/stack.env"
  say "state wiped ($STATE_DIR); installed things kept ($CACHE_DIR)"
}

usage() {
  # The header comment of this file is the help text.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
  exit "${1:-0}"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    install) cmd_install "$@" ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    start | stop)
      [[ $# -eq 1 ]] || die "usage: stack.sh $cmd SERVICE"
      if [[ $cmd == start ]]; then cmd_up "$1"; else cmd_down "$1"; fi
      ;;
    pause) cmd_pause_resume STOP "$@" ;;
    resume) cmd_pause_resume CONT "$@" ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    reset) cmd_reset ;;
    env) env_lines ;;
    kafka-topics) kafka_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" "$@" ;;
    help | -h | --help) usage ;;
    *) usage 1 >&2 ;;
  esac
}

main "$@"
