#!/usr/bin/env python3
"""Check, from the KV buckets alone, that a NATS server holds a valid parti cluster in the Go
library's format. Independent of parti-top's Rust code: it uses the Python NATS client.

    python3 -m pip install nats-py
    NATS_USER=… NATS_PASSWORD=… python3 tools/check-cluster.py --server nats://127.0.0.1:4222 \
        --partitions 100 --timing fast [--workers 5]

Exit 0 when valid, 1 with one line per problem otherwise, 2 when the server cannot be read.
"""
import argparse
import asyncio
import json
import os
import re
import sys

TIMINGS = {  # bucket MaxAge in seconds: stable-ID, election, heartbeat, assignment
    "production": (30, 5, 6, 0),
    "integration": (5, 2, 2, 0),
    "fast": (5, 5, 1.5, 0),
}
BUCKETS = ("parti-stableid", "parti-election", "parti-heartbeat", "parti-assignment")
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
LEADER = re.compile(r"^(?P<id>[A-Za-z0-9_-]+-\d+):(?P<unix>\d+)$")


async def read(args):
    import nats
    from nats.js.errors import KeyNotFoundError, NoKeysError

    options = {"servers": [args.server], "connect_timeout": 5, "max_reconnect_attempts": 0}
    if os.environ.get("NATS_USER"):
        options["user"] = os.environ["NATS_USER"]
        options["password"] = os.environ.get("NATS_PASSWORD", "")
    nc = await nats.connect(**options)
    js = nc.jetstream()
    problems = []
    expected_ttls = TIMINGS[args.timing]
    values = {}
    for bucket, ttl in zip(BUCKETS, expected_ttls):
        info = await js.stream_info(f"KV_{bucket}")
        config = info.config
        if config.subjects != [f"$KV.{bucket}.>"]:
            problems.append(f"{bucket}: subjects {config.subjects}")
        if config.max_msgs_per_subject != 1:
            problems.append(f"{bucket}: history {config.max_msgs_per_subject}, expected 1")
        if abs((config.max_age or 0) - ttl) > 1e-6:
            problems.append(f"{bucket}: max age {config.max_age}s, expected {ttl}s")
        if str(config.storage).lower().find("file") < 0:
            problems.append(f"{bucket}: storage {config.storage}, expected file")
        if config.num_replicas != 1:
            problems.append(f"{bucket}: {config.num_replicas} replicas, expected 1")
        kv = await js.key_value(bucket)
        try:
            keys = await kv.keys()
        except NoKeysError:
            keys = []
        values[bucket] = {}
        for key in keys:
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue
            values[bucket][key] = entry.value.decode()
    await nc.close()
    return values, problems


def check(values, problems, partitions, workers):
    ids = values["parti-stableid"]
    for key, value in ids.items():
        if not re.match(r"^[A-Za-z0-9_-]+-\d+$", key):
            problems.append(f"stable-ID key {key!r} is not <prefix>-<n>")
        if not RFC3339_SECONDS.match(value):
            problems.append(f"stable-ID {key} value {value!r} is not RFC 3339 at second precision")
    live = set()
    for key, value in values["parti-heartbeat"].items():
        if not key.startswith("heartbeat."):
            problems.append(f"heartbeat key {key!r}")
            continue
        live.add(key[len("heartbeat."):])
        if not RFC3339_NANO.match(value):
            problems.append(f"{key} value {value!r} is not RFC 3339 (nano)")
    leader = values["parti-election"].get("leader")
    match = LEADER.match(leader or "")
    if not match:
        problems.append(f"leader value {leader!r} is not <workerID>:<unix seconds>")
    elif match["id"] not in live:
        problems.append(f"leader {match['id']} has no heartbeat")
    if workers is not None and len(live) != workers:
        problems.append(f"{len(live)} live workers, expected {workers}")
    for worker in live:
        if worker not in ids:
            problems.append(f"live worker {worker} holds no stable ID")
    owners = {}
    versions = set()
    for key, value in values["parti-assignment"].items():
        if not key.startswith("assignment."):
            problems.append(f"assignment key {key!r}")
            continue
        worker = key[len("assignment."):]
        try:
            doc = json.loads(value)
        except ValueError:
            problems.append(f"{key} is not JSON")
            continue
        if list(doc.keys())[:3] != ["version", "lifecycle", "partitions"]:
            problems.append(f"{key} fields {list(doc.keys())} not in Go order")
        parts = doc.get("partitions") or []
        if worker not in live:
            if parts:
                problems.append(f"{worker} has no heartbeat but owns {len(parts)} partitions")
            continue
        versions.add(doc.get("version"))
        for part in parts:
            if list(part.keys()) != ["keys", "weight"]:
                problems.append(f"{key}: partition fields {list(part.keys())}")
            owners.setdefault(tuple(part.get("keys") or []), []).append(worker)
    for worker in live:
        if f"assignment.{worker}" not in values["parti-assignment"]:
            problems.append(f"live worker {worker} has no assignment")
    if len(versions) > 1:
        problems.append(f"live workers hold different versions {sorted(versions)}")
    if not live:
        problems.append("no live workers (no heartbeat keys)")
    unowned = [i for i in range(partitions) if not owners.get((f"partition-{i}",))]
    if unowned:
        problems.append(f"{len(unowned)} partitions have no owner (first: partition-{unowned[0]})")
    for i in range(partitions):
        got = owners.get((f"partition-{i}",), [])
        if len(got) > 1:
            problems.append(f"partition-{i} has {len(got)} owners {got}")
    extra = [k for k in owners if k not in {(f"partition-{i}",) for i in range(partitions)}]
    if extra:
        problems.append(f"unknown partitions assigned: {extra}")
    return live, match["id"] if match else None, versions


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    parser.add_argument("--partitions", type=int, required=True)
    parser.add_argument("--timing", choices=sorted(TIMINGS), default="production")
    parser.add_argument("--workers", type=int)
    args = parser.parse_args()
    try:
        values, problems = asyncio.run(read(args))
    except Exception as err:  # any failure to read the server
        print(f"check-cluster: cannot read {args.server}: {err}", file=sys.stderr)
        return 2
    live, leader, versions = check(values, problems, args.partitions, args.workers)
    if problems:
        for problem in problems:
            print(f"problem: {problem}")
        return 1
    print(
        f"valid parti cluster: {len(live)} workers {sorted(live)}, leader {leader}, "
        f"version {versions.pop() if versions else '-'}, {args.partitions} partitions each owned once"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
