# Kafka $KAFKA_VERSION, KRaft single node (broker + controller in one JVM), from Maven Central jars.
# Jars and CLI wrappers live in $KAFKA_HOME (cache, per version); data, config and log in $RUN_DIR/kafka.

KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_BIN="$KAFKA_HOME/bin"
KAFKA_DIR="$RUN_DIR/kafka"
KAFKA_POM="$INFRA_DIR/kafka/pom.xml"
M2_REPO="$CACHE_DIR/m2"

# CLI wrappers: name -> main class. All run from the same jars as the broker.
KAFKA_TOOLS=(
  "kafka-topics org.apache.kafka.tools.TopicCommand"
  "kafka-consumer-groups org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
  "kafka-console-consumer org.apache.kafka.tools.consumer.ConsoleConsumer"
  "kafka-console-producer org.apache.kafka.tools.ConsoleProducer"
  "kafka-consumer-perf-test org.apache.kafka.tools.ConsumerPerformance"
  "kafka-producer-perf-test org.apache.kafka.tools.ProducerPerformance"
  "kafka-get-offsets org.apache.kafka.tools.GetOffsetShell"
  "kafka-delete-records org.apache.kafka.tools.DeleteRecordsCommand"
  "kafka-configs kafka.admin.ConfigCommand"
  "kafka-metadata-quorum org.apache.kafka.tools.MetadataQuorumCommand"
  "kafka-storage kafka.tools.StorageTool"
  "connect-standalone org.apache.kafka.connect.cli.ConnectStandalone"
)

# What the install depends on: the version and the content (not the path: checkouts share the cache).
kafka_stamp() {
  echo "$KAFKA_VERSION $(cat "$KAFKA_POM" "$INFRA_DIR"/kafka/*log4j2.properties | sha256sum | cut -c1-16)"
}

install_kafka() {
  command -v java >/dev/null || die "java not found: apt-get install -y openjdk-17-jre-headless (or run .ci/run)"
  if [[ "$(cat "$KAFKA_HOME/.installed" 2>/dev/null)" == "$(kafka_stamp)" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found: apt-get install -y maven (or run .ci/run)"
  log "kafka: fetching $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  # Jars go to a new directory first: a broker may be running from the old one.
  local fresh="$KAFKA_HOME/libs.new"
  rm -rf "$fresh"
  mkdir -p "$fresh" "$KAFKA_BIN" "$KAFKA_HOME/config"
  mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" -Dmaven.repo.local="$M2_REPO" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$fresh" >"$KAFKA_HOME/mvn.log" 2>&1 ||
    { tail -n 30 "$KAFKA_HOME/mvn.log" >&2; die "kafka: mvn dependency:copy-dependencies failed"; }
  if [[ -d "$KAFKA_LIBS" ]] && diff -q <(ls "$KAFKA_LIBS") <(ls "$fresh") >/dev/null; then
    rm -rf "$fresh"
  else
    rm -rf "$KAFKA_LIBS.old"
    [[ -d "$KAFKA_LIBS" ]] && mv "$KAFKA_LIBS" "$KAFKA_LIBS.old"
    mv "$fresh" "$KAFKA_LIBS"
  fi
  cp "$INFRA_DIR/kafka/log4j2.properties" "$INFRA_DIR/kafka/tools-log4j2.properties" "$KAFKA_HOME/config/"
  local entry name class opts
  for entry in "${KAFKA_TOOLS[@]}"; do
    read -r name class <<<"$entry"
    # Perf tests measure the ceiling the sinker is compared with: give them the full JIT.
    # The other tools are short-lived, so C1 only starts them faster.
    case "$name" in
      *perf-test) opts='-Xmx1g -XX:+UseG1GC' ;;
      *) opts='-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1' ;;
    esac
    cat >"$KAFKA_BIN/$name" <<WRAPPER
#!/usr/bin/env bash
# Kafka $KAFKA_VERSION $name, written by doris-sinker's test/infra/up. Extra JVM flags: KAFKA_TOOL_OPTS.
exec java $opts -Xshare:auto \${KAFKA_TOOL_OPTS:-} -Dlog4j2.configurationFile="$KAFKA_HOME/config/tools-log4j2.properties" \\
  -cp "$KAFKA_LIBS/*" $class "\$@"
WRAPPER
    chmod +x "$KAFKA_BIN/$name"
  done
  kafka_stamp >"$KAFKA_HOME/.installed"
}

write_kafka_config() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF2
# Written by test/infra/components/kafka.sh on every start; edit that file, not this one.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
# One broker: every internal topic must live with one replica, or its coordinator never starts.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Tests join groups often; waiting 3 s for more members only slows them down.
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=24
EOF2
}

kafka_ready() {
  port_open "$KAFKA_PORT" && "$KAFKA_BIN/kafka-topics" --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list >/dev/null 2>&1
}

set_kafka_env() {
  set_env KAFKA_BOOTSTRAP "127.0.0.1:$KAFKA_PORT"
  set_env KAFKA_BIN "$KAFKA_BIN"
  set_env KAFKA_VERSION "$KAFKA_VERSION"
  set_env KAFKA_LIBS "$KAFKA_LIBS"
}

start_kafka() {
  if daemon_alive kafka && kafka_ready; then
    set_kafka_env
    return 0
  fi
  stop_daemon kafka
  port_free_or_die kafka "$KAFKA_PORT"
  port_free_or_die kafka "$KAFKA_CONTROLLER_PORT"
  write_kafka_config
  if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
    local id
    id=$(java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_HOME/config/tools-log4j2.properties" kafka.tools.StorageTool random-uuid)
    log "kafka: formatting storage (cluster id $id)"
    java -cp "$KAFKA_LIBS/*" -Dlog4j2.configurationFile="$KAFKA_HOME/config/tools-log4j2.properties" \
      kafka.tools.StorageTool format -t "$id" -c "$KAFKA_DIR/server.properties" -g >/dev/null ||
      die "kafka: storage format failed"
  fi
  start_daemon kafka java -Xms512m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_HOME/config/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties"
  wait_for "kafka port" 90 port_open "$KAFKA_PORT" || fail_start kafka "port $KAFKA_PORT never opened"
  wait_for "kafka admin" 90 kafka_ready || fail_start kafka "listing topics on 127.0.0.1:$KAFKA_PORT failed"
  set_kafka_env
}

stop_kafka() { stop_daemon kafka "${1:-TERM}" 60; }

status_kafka() {
  if daemon_alive kafka && port_open "$KAFKA_PORT"; then
    echo "127.0.0.1:$KAFKA_PORT (kafka $KAFKA_VERSION KRaft; tools in $KAFKA_BIN)"
  else
    echo down
    return 1
  fi
}
