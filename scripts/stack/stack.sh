#!/usr/bin/env bash
# finsentry local stack: real Apache Kafka (KRaft, from Maven Central jars), Redis (single node and,
# optionally, a 3-node cluster) and, optionally, Prometheus + Alertmanager, all bound to 127.0.0.1
# and run as plain processes (no Docker, no systemd). State lives under .stack/ in the repo root.
# Optionally also a Confluent-compatible schema registry (Apicurio Registry, its prebuilt Quarkus
# distribution from Maven Central, in-memory storage), serving the Confluent API under /apis/ccompat/v7.
#
#   stack.sh up     [kafka|redis|registry]... [--redis-cluster] [--prometheus] [--registry]
#                                                      start what is not running (idempotent);
#                                                      Redis and Kafka unless components are named
#   stack.sh status                                    show every component and whether it answers
#   stack.sh fetch                                     only cache the Kafka jars (the fault and security
#                                                      tests start private brokers from them)
#   stack.sh down [kafka|redis|redis-cluster|prometheus|registry]...
#                                                      stop what this script started (all by
#                                                      default); keep caches and Kafka data
#
# Ports: Kafka 9092 (controller 9094), Redis 6379, cluster 7001-7003, Prometheus 9090,
# Alertmanager 9093, schema registry 8081 (its health/management interface 8082). The Kafka
# controller sits on 9094 so that Alertmanager keeps its usual 9093.
#
# A second, private stack (the fault tests start one so that stopping its servers cannot disturb
# anyone using the default one) comes from the same script with other ports and another state dir:
#   FINSENTRY_STACK_DIR               state directory (default .stack in the repo root)
#   FINSENTRY_KAFKA_PORT              Kafka listener (default 9092)
#   FINSENTRY_KAFKA_CONTROLLER_PORT   KRaft controller listener (default 9094)
#   FINSENTRY_KAFKA_LIBS              Kafka jars (default $FINSENTRY_STACK_DIR/kafka/libs; point it at
#                                     an existing cache to skip the Maven download)
#   FINSENTRY_REDIS_PORT              single-node Redis (default 6379)
#   FINSENTRY_REGISTRY_PORT           schema registry HTTP port (default 8081; management = port + 1)
#   FINSENTRY_REGISTRY_JAVA           a Java 21+ binary for the registry (default: the first found of
#                                     java on PATH, /usr/lib/jvm/*/bin/java that is 21 or newer)
#   FINSENTRY_REDIS_APPENDONLY=yes    Redis with an append-only file (fsync every write), so that a
#                                     stopped and restarted Redis keeps its data (default: none)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_DIR="${FINSENTRY_STACK_DIR:-$ROOT/.stack}"
SCRIPT_DIR="$ROOT/scripts/stack"

KAFKA_VERSION="${FINSENTRY_KAFKA_VERSION:-3.9.1}"
SCALA_VERSION="2.13"
KAFKA_PORT="${FINSENTRY_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${FINSENTRY_KAFKA_CONTROLLER_PORT:-9094}"
KAFKA_HEAP="${FINSENTRY_KAFKA_HEAP:--Xmx768m -Xms256m}"
REDIS_PORT="${FINSENTRY_REDIS_PORT:-6379}"
REDIS_APPENDONLY="${FINSENTRY_REDIS_APPENDONLY:-no}"
REDIS_CLUSTER_PORTS=(7001 7002 7003)
PROMETHEUS_PORT=9090
REGISTRY_VERSION="${FINSENTRY_REGISTRY_VERSION:-3.3.3}"
REGISTRY_PORT="${FINSENTRY_REGISTRY_PORT:-8081}"
REGISTRY_MANAGEMENT_PORT=$((REGISTRY_PORT + 1))
ALERTMANAGER_PORT=9093
FINSENTRY_METRICS_TARGET="${FINSENTRY_METRICS_TARGET:-127.0.0.1:9464}"
ALERT_WEBHOOK="${FINSENTRY_ALERT_WEBHOOK:-http://127.0.0.1:9999/alerts}"
DEFAULT_TOPICS=(news.raw chat.raw labels finsentry.enriched finsentry.alerts finsentry.dlq finsentry.late)
DEFAULT_TOPIC_PARTITIONS=4

KAFKA_DIR="$STACK_DIR/kafka"
KAFKA_LIBS="${FINSENTRY_KAFKA_LIBS:-$KAFKA_DIR/libs}"
REDIS_DIR="$STACK_DIR/redis"
PROM_DIR="$STACK_DIR/prometheus"
AM_DIR="$STACK_DIR/alertmanager"
REGISTRY_DIR="$STACK_DIR/registry"

say() { printf 'finsentry stack: %s\n' "$*"; }
warn() { printf 'finsentry stack: WARNING: %s\n' "$*" >&2; }
die() { printf 'finsentry stack: ERROR: %s\n' "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Waits up to $2 seconds for port $1 to accept connections; $3 names the process for messages,
# $4 (optional) is a pid file whose process must stay alive meanwhile.
wait_port() {
  local port="$1" timeout="$2" name="$3" pidfile="${4:-}" waited=0
  until port_open "$port"; do
    if [[ -n "$pidfile" ]] && ! pid_alive "$pidfile"; then
      return 1
    fi
    ((waited >= timeout * 4)) && return 1
    sleep 0.25
    waited=$((waited + 1))
  done
  return 0
}

# Waits up to $1 seconds until the command after $2 succeeds (quietly), while the process of pid file
# $2 stays alive; fails when it dies or the time runs out.
wait_ready() {
  local timeout="$1" pidfile="$2" waited=0
  shift 2
  until "$@" >/dev/null 2>&1; do
    pid_alive "$pidfile" && ((waited < timeout * 4)) || return 1
    sleep 0.25
    waited=$((waited + 1))
  done
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    die "need root (or sudo) to run: $*"
  fi
}

# Installs Debian packages when a command is missing; refreshes the package lists only if the
# first attempt fails (a fresh machine has none).
apt_install() {
  say "installing Debian packages: $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q --no-install-recommends "$@" >"$STACK_DIR/apt.log" 2>&1; then
    say "apt-get install failed; running apt-get update and retrying"
    as_root apt-get update -q >>"$STACK_DIR/apt.log" 2>&1 || true
    as_root apt-get install -y -q --no-install-recommends "$@" >>"$STACK_DIR/apt.log" 2>&1 ||
      die "could not install $* (see $STACK_DIR/apt.log)"
  fi
}

# ---------------------------------------------------------------------------------------- Kafka

kafka_fetch() {
  local libs="$KAFKA_LIBS" stamp="$KAFKA_LIBS/.finsentry-kafka-$KAFKA_VERSION"
  [[ -f "$stamp" ]] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch Kafka jars from Maven Central"
  command -v java >/dev/null || die "Java 17 is required to run Kafka"
  say "fetching Kafka $KAFKA_VERSION jars from Maven Central with Maven (first run only) …"
  mkdir -p "$KAFKA_DIR"
  rm -rf "$libs"
  # A throwaway pom whose runtime classpath is a Kafka broker: the server jar plus the log4j 1
  # (reload4j) binding that the Kafka distribution ships but the Maven pom leaves out.
  cat >"$KAFKA_DIR/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.finsentry.stack</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_$SCALA_VERSION</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
EOF
  if ! mvn -B -q -f "$KAFKA_DIR/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" >"$KAFKA_DIR/maven.log" 2>&1; then
    tail -n 30 "$KAFKA_DIR/maven.log" >&2
    die "Maven could not fetch Kafka $KAFKA_VERSION (full log: $KAFKA_DIR/maven.log)"
  fi
  # Other SLF4J bindings pulled in transitively would make the logging setup ambiguous.
  find "$libs" -name 'slf4j-log4j12-*.jar' -o -name 'logback-classic-*.jar' | xargs -r rm -f
  touch "$stamp"
  say "Kafka jars cached in $libs ($(find "$libs" -name '*.jar' | wc -l) jars)"
}

kafka_write_config() {
  mkdir -p "$KAFKA_DIR/config" "$KAFKA_DIR/logs" "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/config/server.properties" <<EOF
# Generated by scripts/stack/stack.sh — single combined broker+controller in KRaft mode.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true
offsets.topic.replication.factor=1
# Fewer internal partitions than the default 50 keep the first group join fast on 2 cores.
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=8
group.initial.rebalance.delay.ms=0
# Let fault tests use short consumer session timeouts (default minimum is 6 s).
group.min.session.timeout.ms=1000
num.network.threads=2
num.io.threads=4
log.retention.hours=24
log.segment.bytes=67108864
EOF
  cat >"$KAFKA_DIR/config/log4j.properties" <<EOF
log4j.rootLogger=INFO, kafkaAppender
log4j.appender.kafkaAppender=org.apache.log4j.RollingFileAppender
log4j.appender.kafkaAppender.File=$KAFKA_DIR/logs/server.log
log4j.appender.kafkaAppender.MaxFileSize=20MB
log4j.appender.kafkaAppender.MaxBackupIndex=2
log4j.appender.kafkaAppender.layout=org.apache.log4j.PatternLayout
log4j.appender.kafkaAppender.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
EOF
  # Tools (StorageTool) log to the console at WARN only.
  cat >"$KAFKA_DIR/config/tools-log4j.properties" <<EOF
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

kafka_java() {
  java -cp "$KAFKA_LIBS/*" "$@"
}

kafka_admin() {
  if [[ ! -d "$ROOT/node_modules/kafkajs" ]]; then
    return 2
  fi
  node "$SCRIPT_DIR/kafka-admin.mjs" "$@"
}

kafka_up() {
  local pidfile="$KAFKA_DIR/kafka.pid"
  if pid_alive "$pidfile" && port_open "$KAFKA_PORT"; then
    say "Kafka $KAFKA_VERSION already running on 127.0.0.1:$KAFKA_PORT (pid $(cat "$pidfile"))"
  elif port_open "$KAFKA_PORT"; then
    say "something already listens on 127.0.0.1:$KAFKA_PORT and was not started here; using it as Kafka"
  else
    kafka_fetch
    kafka_write_config
    if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
      local cluster_id
      # A Kafka cluster id is 16 random bytes in URL-safe base64 without padding. One in 64 starts
      # with "-", which kafka-storage's argument parser takes for an option ("expected one argument");
      # Kafka's own Uuid.randomUuid() draws again in that case, and so does this.
      cluster_id="-"
      while [[ "$cluster_id" == -* ]]; do
        cluster_id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
      done
      say "formatting Kafka KRaft storage (cluster id $cluster_id)"
      kafka_java -Dlog4j.configuration="file:$KAFKA_DIR/config/tools-log4j.properties" \
        kafka.tools.StorageTool format -t "$cluster_id" -c "$KAFKA_DIR/config/server.properties" \
        --ignore-formatted >"$KAFKA_DIR/logs/format.log" 2>&1 ||
        { cat "$KAFKA_DIR/logs/format.log" >&2; die "Kafka storage format failed"; }
    fi
    say "starting Kafka $KAFKA_VERSION (KRaft) on 127.0.0.1:$KAFKA_PORT (controller 127.0.0.1:$KAFKA_CONTROLLER_PORT) …"
    # shellcheck disable=SC2086 # KAFKA_HEAP holds several JVM options on purpose
    setsid nohup java $KAFKA_HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dkafka.logs.dir="$KAFKA_DIR/logs" \
      -Dlog4j.configuration="file:$KAFKA_DIR/config/log4j.properties" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/config/server.properties" \
      </dev/null >"$KAFKA_DIR/logs/kafka.out" 2>&1 9>&- &
    echo $! >"$pidfile"
    if ! wait_port "$KAFKA_PORT" 120 Kafka "$pidfile"; then
      tail -n 40 "$KAFKA_DIR/logs/kafka.out" "$KAFKA_DIR/logs/server.log" >&2 2>/dev/null || true
      die "Kafka did not open 127.0.0.1:$KAFKA_PORT (logs: $KAFKA_DIR/logs)"
    fi
  fi
  # An open port is not enough: wait until the broker answers metadata requests.
  local rc=0
  kafka_admin ready "127.0.0.1:$KAFKA_PORT" 120 || rc=$?
  if [[ $rc -eq 2 ]]; then
    warn "node_modules/kafkajs missing (run npm ci); skipping the metadata check and default topics"
    return 0
  elif [[ $rc -ne 0 ]]; then
    die "Kafka on 127.0.0.1:$KAFKA_PORT does not answer metadata requests (logs: $KAFKA_DIR/logs)"
  fi
  kafka_admin topics "127.0.0.1:$KAFKA_PORT" "$DEFAULT_TOPIC_PARTITIONS" "${DEFAULT_TOPICS[@]}" ||
    die "could not create the default topics"
  say "Kafka ready on 127.0.0.1:$KAFKA_PORT; topics: ${DEFAULT_TOPICS[*]}"
}

# ---------------------------------------------------------------------------------------- Redis

redis_ensure_installed() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server redis-tools
  fi
}

# Starts one daemonized redis-server on $1 with data under $2; extra args follow.
redis_start() {
  local port="$1" dir="$2"
  shift 2
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --save '' --appendonly no "$@" >/dev/null 9>&-
  wait_port "$port" 20 "Redis $port" || { tail -n 20 "$dir/redis.log" >&2; die "Redis did not start on $port"; }
}

redis_up() {
  redis_ensure_installed
  if port_open "$REDIS_PORT"; then
    if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
      say "Redis already running on 127.0.0.1:$REDIS_PORT"
    else
      die "127.0.0.1:$REDIS_PORT is taken by something that does not answer Redis PING"
    fi
  else
    say "starting Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/') on 127.0.0.1:$REDIS_PORT …"
    if [[ "$REDIS_APPENDONLY" == yes ]]; then
      # Later options win over redis_start's --appendonly no.
      redis_start "$REDIS_PORT" "$REDIS_DIR/$REDIS_PORT" --appendonly yes --appendfsync always
    else
      redis_start "$REDIS_PORT" "$REDIS_DIR/$REDIS_PORT"
    fi
    say "Redis ready on 127.0.0.1:$REDIS_PORT"
  fi
}

redis_cluster_state() {
  redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p'
}

redis_cluster_all_ok() {
  local port
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    [[ "$(redis_cluster_state "$port")" == ok ]] || return 1
  done
}

redis_cluster_up() {
  redis_ensure_installed
  local range="127.0.0.1:${REDIS_CLUSTER_PORTS[0]}-${REDIS_CLUSTER_PORTS[-1]}" port started=0 i
  if redis_cluster_all_ok; then
    say "Redis Cluster already running on $range"
    return 0
  fi
  say "starting Redis Cluster (3 masters) on $range …"
  for port in "${REDIS_CLUSTER_PORTS[@]}"; do
    if ! port_open "$port"; then
      # A (re)started node begins from a clean slate; the cluster is then formed anew below.
      rm -rf "$REDIS_DIR/cluster-$port"
      redis_start "$port" "$REDIS_DIR/cluster-$port" --cluster-enabled yes \
        --cluster-config-file nodes.conf --cluster-node-timeout 5000
      started=$((started + 1))
    fi
  done
  if ((started == 0)); then
    # All nodes run but the cluster is not ok: give a converging cluster a moment first.
    for ((i = 0; i < 40; i++)); do
      redis_cluster_all_ok && break
      sleep 0.25
    done
  fi
  if ! redis_cluster_all_ok; then
    # Nodes that never formed a cluster, or a cluster with a node that was restarted empty
    # (e.g. by a fault test): wipe the test data and form the cluster again.
    if ((started < ${#REDIS_CLUSTER_PORTS[@]})); then
      for port in "${REDIS_CLUSTER_PORTS[@]}"; do
        redis-cli -p "$port" flushall >/dev/null 2>&1 || true
        redis-cli -p "$port" cluster reset hard >/dev/null 2>&1 || true
      done
    fi
    local nodes=()
    for port in "${REDIS_CLUSTER_PORTS[@]}"; do nodes+=("127.0.0.1:$port"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
      >"$REDIS_DIR/cluster-create.log" 2>&1 ||
      { cat "$REDIS_DIR/cluster-create.log" >&2; die "redis-cli --cluster create failed"; }
  fi
  for ((i = 0; i < 120; i++)); do
    redis_cluster_all_ok && break
    sleep 0.25
  done
  redis_cluster_all_ok || die "Redis Cluster did not reach cluster_state:ok (logs: $REDIS_DIR/cluster-*/redis.log)"
  say "Redis Cluster ready on $range (cluster_state:ok)"
}

# ------------------------------------------------------------------------ Prometheus/Alertmanager

PROMETHEUS_BIN=prometheus
ALERTMANAGER_BIN=prometheus-alertmanager
RULES_FILE="$ROOT/k8s/prometheus/rules.yml"

prometheus_ensure_installed() {
  command -v alertmanager >/dev/null && ALERTMANAGER_BIN=alertmanager
  if ! command -v "$PROMETHEUS_BIN" >/dev/null || ! command -v "$ALERTMANAGER_BIN" >/dev/null; then
    apt_install prometheus prometheus-alertmanager
  fi
}

prometheus_write_config() {
  mkdir -p "$PROM_DIR/data" "$AM_DIR/data"
  local rule_files="[]"
  [[ -f "$RULES_FILE" ]] && rule_files="[\"$RULES_FILE\"]"
  cat >"$PROM_DIR/prometheus.yml.new" <<EOF
# Generated by scripts/stack/stack.sh
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files: $rule_files
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:$ALERTMANAGER_PORT']
scrape_configs:
  - job_name: finsentry
    static_configs:
      - targets: ['$FINSENTRY_METRICS_TARGET']
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:$PROMETHEUS_PORT']
EOF
  # Severity routing and inhibition from the committed config; only the webhook URL is local.
  sed "s|http://127.0.0.1:9999/alerts|$ALERT_WEBHOOK|" "$ROOT/scripts/stack/alertmanager.yml" \
    >"$AM_DIR/alertmanager.yml.new"
  mv "$PROM_DIR/prometheus.yml.new" "$PROM_DIR/prometheus.yml"
  mv "$AM_DIR/alertmanager.yml.new" "$AM_DIR/alertmanager.yml"
}

# Starts a detached process; $1 pid file, $2 log file, rest the command.
start_detached() {
  local pidfile="$1" log="$2"
  shift 2
  setsid nohup "$@" </dev/null >"$log" 2>&1 9>&- &
  echo $! >"$pidfile"
}

prometheus_up() {
  prometheus_ensure_installed
  prometheus_write_config
  if [[ -f "$RULES_FILE" ]] && command -v promtool >/dev/null; then
    promtool check rules "$RULES_FILE" >"$PROM_DIR/promtool.log" 2>&1 ||
      warn "promtool rejects $RULES_FILE (see $PROM_DIR/promtool.log); Prometheus will not load it"
  fi
  if pid_alive "$AM_DIR/alertmanager.pid"; then
    kill -HUP "$(cat "$AM_DIR/alertmanager.pid")"
    say "Alertmanager already running on 127.0.0.1:$ALERTMANAGER_PORT (config reloaded; webhook $ALERT_WEBHOOK)"
  elif port_open "$ALERTMANAGER_PORT"; then
    say "something already listens on 127.0.0.1:$ALERTMANAGER_PORT and was not started here; using it as Alertmanager"
  else
    say "starting Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT (webhook $ALERT_WEBHOOK) …"
    # --cluster.listen-address= turns off HA gossip, which would otherwise bind :9094.
    start_detached "$AM_DIR/alertmanager.pid" "$AM_DIR/alertmanager.log" "$ALERTMANAGER_BIN" \
      --config.file="$AM_DIR/alertmanager.yml" --storage.path="$AM_DIR/data" \
      --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=
    wait_port "$ALERTMANAGER_PORT" 30 Alertmanager "$AM_DIR/alertmanager.pid" ||
      { tail -n 20 "$AM_DIR/alertmanager.log" >&2; die "Alertmanager did not start"; }
  fi
  if pid_alive "$PROM_DIR/prometheus.pid"; then
    # Picks up a changed config or rules file (k8s/prometheus/rules.yml).
    kill -HUP "$(cat "$PROM_DIR/prometheus.pid")"
    say "Prometheus already running on 127.0.0.1:$PROMETHEUS_PORT (config and rules reloaded)"
  elif port_open "$PROMETHEUS_PORT"; then
    say "something already listens on 127.0.0.1:$PROMETHEUS_PORT and was not started here; using it as Prometheus"
  else
    say "starting Prometheus on 127.0.0.1:$PROMETHEUS_PORT (scraping $FINSENTRY_METRICS_TARGET every 2s; rules: $([[ -f "$RULES_FILE" ]] && echo "$RULES_FILE" || echo none yet)) …"
    start_detached "$PROM_DIR/prometheus.pid" "$PROM_DIR/prometheus.log" "$PROMETHEUS_BIN" \
      --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
      --storage.tsdb.retention.time=1d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
      --web.enable-lifecycle
    wait_ready 60 "$PROM_DIR/prometheus.pid" curl -sf "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" ||
      { tail -n 20 "$PROM_DIR/prometheus.log" >&2; die "Prometheus did not become ready"; }
  fi
  say "Prometheus ready on 127.0.0.1:$PROMETHEUS_PORT, Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
}

# ------------------------------------------------------------------------------ Schema registry

# Prints a Java binary of version 21 or newer (Apicurio Registry 3 needs 21+; Kafka runs on 17).
registry_java() {
  local candidate major
  for candidate in ${FINSENTRY_REGISTRY_JAVA:-} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    major="$("$candidate" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
    if [[ "$major" =~ ^[0-9]+$ ]] && ((major >= 21)); then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Caches Apicurio Registry's prebuilt Quarkus distribution (the `all` tar.gz that Apicurio publishes
# next to apicurio-registry-app on Maven Central: quarkus-run.jar + lib/), so nothing is compiled.
registry_fetch() {
  local home="$REGISTRY_DIR/apicurio-$REGISTRY_VERSION" tarball
  [[ -f "$home/quarkus-run.jar" ]] && return 0
  command -v mvn >/dev/null || die "Maven (mvn) is required to fetch Apicurio Registry from Maven Central"
  say "fetching Apicurio Registry $REGISTRY_VERSION from Maven Central with Maven (first run only) …"
  mkdir -p "$REGISTRY_DIR"
  tarball="$REGISTRY_DIR/apicurio-registry-app-$REGISTRY_VERSION-all.tar.gz"
  if ! mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy \
    -Dartifact="io.apicurio:apicurio-registry-app:$REGISTRY_VERSION:tar.gz:all" \
    -DoutputDirectory="$REGISTRY_DIR" >"$REGISTRY_DIR/maven.log" 2>&1 || [[ ! -f "$tarball" ]]; then
    tail -n 30 "$REGISTRY_DIR/maven.log" >&2
    die "Maven could not fetch Apicurio Registry $REGISTRY_VERSION (full log: $REGISTRY_DIR/maven.log)"
  fi
  rm -rf "$home.tmp" && mkdir -p "$home.tmp"
  tar -xzf "$tarball" -C "$home.tmp" || die "could not unpack $tarball"
  [[ -f "$home.tmp/quarkus-run.jar" ]] || die "$tarball holds no quarkus-run.jar"
  rm -rf "$home" && mv "$home.tmp" "$home"
  rm -f "$tarball" # ~/.m2 keeps a copy
  say "Apicurio Registry $REGISTRY_VERSION cached in $home"
}

registry_ready() {
  curl -sf "http://127.0.0.1:$REGISTRY_MANAGEMENT_PORT/health/ready" >/dev/null 2>&1
}

registry_up() {
  local pidfile="$REGISTRY_DIR/registry.pid" java
  if registry_ready; then
    say "schema registry already running on 127.0.0.1:$REGISTRY_PORT"
    return 0
  elif port_open "$REGISTRY_PORT"; then
    die "127.0.0.1:$REGISTRY_PORT is taken by something that is not a ready Apicurio Registry"
  fi
  registry_fetch
  java="$(registry_java)" || die "Apicurio Registry needs Java 21 or newer (set FINSENTRY_REGISTRY_JAVA)"
  say "starting Apicurio Registry $REGISTRY_VERSION (in-memory H2) on 127.0.0.1:$REGISTRY_PORT (health 127.0.0.1:$REGISTRY_MANAGEMENT_PORT) …"
  # In-memory storage: registered schemas last as long as the process (a test stack, not a store).
  # C1 only (TieredStopAtLevel=1) starts the JVM about a third faster on a small machine.
  (cd "$REGISTRY_DIR" && start_detached "$pidfile" "$REGISTRY_DIR/registry.log" "$java" \
    -Xms64m -Xmx384m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
    -Dquarkus.http.access-log.enabled=false -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    -Dapicurio.datasource.url=jdbc:h2:mem:finsentry -Dapicurio.datasource.jdbc.initial-size=2 \
    -Dapicurio.datasource.jdbc.min-size=2 -Dapicurio.datasource.jdbc.max-size=20 \
    -jar "$REGISTRY_DIR/apicurio-$REGISTRY_VERSION/quarkus-run.jar")
  if ! wait_ready 120 "$pidfile" registry_ready; then
    tail -n 30 "$REGISTRY_DIR/registry.log" >&2
    die "the schema registry did not become ready (log: $REGISTRY_DIR/registry.log)"
  fi
  say "schema registry ready on http://127.0.0.1:$REGISTRY_PORT (Confluent API: /apis/ccompat/v7)"
}

# ---------------------------------------------------------------------------------- down/status

stop_pidfile() {
  local pidfile="$1" name="$2" i
  if pid_alive "$pidfile"; then
    local pid
    pid="$(cat "$pidfile")"
    say "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 120; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$name did not stop in 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

cmd_down() {
  local components=("$@") component port
  ((${#components[@]} > 0)) || components=(registry prometheus redis-cluster redis kafka)
  for component in "${components[@]}"; do
    case "$component" in
      prometheus)
        stop_pidfile "$PROM_DIR/prometheus.pid" Prometheus
        stop_pidfile "$AM_DIR/alertmanager.pid" Alertmanager
        ;;
      redis-cluster)
        for port in "${REDIS_CLUSTER_PORTS[@]}"; do
          stop_pidfile "$REDIS_DIR/cluster-$port/redis.pid" "Redis Cluster node $port"
        done
        ;;
      redis) stop_pidfile "$REDIS_DIR/$REDIS_PORT/redis.pid" "Redis $REDIS_PORT" ;;
      kafka) stop_pidfile "$KAFKA_DIR/kafka.pid" "Kafka" ;;
      registry) stop_pidfile "$REGISTRY_DIR/registry.pid" "schema registry" ;;
      *) die "unknown component for down: $component (kafka, redis, redis-cluster, prometheus, registry)" ;;
    esac
  done
  say "stopped ${components[*]} (caches and Kafka data kept under $STACK_DIR)"
}

status_line() {
  printf 'finsentry stack: %-22s %-22s %s\n' "$1" "$2" "$3"
}

cmd_status() {
  local port state
  if port_open "$KAFKA_PORT"; then
    if kafka_admin ready "127.0.0.1:$KAFKA_PORT" 5 >/dev/null 2>&1; then state="up (metadata ok)"; else state="port open, metadata FAILS"; fi
  else state=down; fi
  status_line "Kafka $KAFKA_VERSION" "127.0.0.1:$KAFKA_PORT" "$state"
  if command -v redis-cli >/dev/null && redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then state=up; else state=down; fi
  status_line Redis "127.0.0.1:$REDIS_PORT" "$state"
  local cs
  cs="$(command -v redis-cli >/dev/null && redis_cluster_state "${REDIS_CLUSTER_PORTS[0]}" || true)"
  if [[ -n "$cs" ]]; then state="up (cluster_state:$cs)"; else state=down; fi
  status_line "Redis Cluster" "127.0.0.1:${REDIS_CLUSTER_PORTS[0]}-${REDIS_CLUSTER_PORTS[-1]}" "$state"
  if curl -sf "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; then state=up; else state=down; fi
  status_line Prometheus "127.0.0.1:$PROMETHEUS_PORT" "$state"
  if curl -sf "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" >/dev/null 2>&1; then state=up; else state=down; fi
  status_line Alertmanager "127.0.0.1:$ALERTMANAGER_PORT" "$state"
  if registry_ready; then state="up (health ready)"; elif port_open "$REGISTRY_PORT"; then state="port open, NOT ready"; else state=down; fi
  status_line "Schema registry" "127.0.0.1:$REGISTRY_PORT" "$state"
}

cmd_up() {
  local with_cluster=0 with_prometheus=0 with_registry=0 with_redis=1 with_kafka=1 named=0 arg
  for arg in "$@"; do
    case "$arg" in
      --redis-cluster) with_cluster=1 ;;
      --prometheus) with_prometheus=1 ;;
      --registry) with_registry=1 ;;
      registry)
        if ((named == 0)); then with_redis=0 with_kafka=0 named=1; fi
        with_registry=1
        ;;
      kafka | redis)
        # Named components: start only those (plus the flags); e.g. `up redis` restarts a stopped Redis.
        if ((named == 0)); then with_redis=0 with_kafka=0 named=1; fi
        [[ "$arg" == kafka ]] && with_kafka=1
        [[ "$arg" == redis ]] && with_redis=1
        ;;
      *) die "unknown option for up: $arg" ;;
    esac
  done
  mkdir -p "$STACK_DIR"
  # One `up` at a time: parallel test runners may call it concurrently. Started servers must not
  # inherit fd 9 (hence the 9>&- on every launch), or they would hold the lock forever.
  exec 9>"$STACK_DIR/.up.lock"
  flock 9
  local started=$SECONDS
  ((with_redis)) && redis_up
  ((with_cluster)) && redis_cluster_up
  ((with_kafka)) && kafka_up
  ((with_prometheus)) && prometheus_up
  ((with_registry)) && registry_up
  say "up in $((SECONDS - started))s (state in $STACK_DIR; stop with: bash scripts/stack/stack.sh down)"
}

main() {
  local cmd="${1:-}"
  shift || true
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status ;;
    fetch) mkdir -p "$STACK_DIR" && kafka_fetch ;;
    *)
      echo "usage: $0 up [kafka|redis|registry]... [--redis-cluster] [--prometheus] [--registry] | down [kafka|redis|redis-cluster|prometheus|registry]... | status | fetch" >&2
      exit 2
      ;;
  esac
}

main "$@"
