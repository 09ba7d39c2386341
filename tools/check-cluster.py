#!/usr/bin/env python3
"""Check, from the KV buckets alone, that a NATS server holds a valid parti cluster in the Go
library's format. Independent of parti-top's Rust code: it uses the Python NATS client (nats-py).

    python3 -m pip install nats-py
    python3 tools/check-cluster.py --context /tmp/parti-top-nats-…/nats-context.json \\
        --partitions 100 --timing fast [--workers 5]

Connection options follow the NATS tools: a nats CLI context (--context FILE or NAME, or
NATS_CONTEXT), overridden by --server/NATS_URL, --user/NATS_USER, --password/NATS_PASSWORD,
--creds/NATS_CREDS and the TLS options. `parti-top host` prints the --context line for the
server it manages.
"""
import argparse
import asyncio
import json
import logging
import os
import re
import sys

PROG = "parti-top check-cluster"
DEFAULT_URL = "nats://127.0.0.1:4222"
TIMINGS = {  # bucket MaxAge in seconds: stable-ID, election, heartbeat, assignment
    "production": (30, 5, 6, 0),
    "integration": (5, 2, 2, 0),
    "fast": (5, 5, 1.5, 0),
}
BUCKETS = ("parti-stableid", "parti-election", "parti-heartbeat", "parti-assignment")
RFC3339_SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
LEADER = re.compile(r"^(?P<id>[A-Za-z0-9_-]+-\d+):(?P<unix>\d+)$")

EXIT_CODES = """exit codes:
  0  the server holds a valid parti cluster (one "valid parti cluster: …" line on stdout)
  1  the cluster is invalid: one "problem: …" line per problem on stdout
  2  could not check (one line on stderr): bad arguments, nats-py missing, server unreachable,
     credentials missing or refused, JetStream off, or no parti buckets on the server
"""
CREDENTIALS_HINT = (
    "give credentials with --context FILE (the nats-context.json that `parti-top host` prints "
    "for a managed server), --user/--password (NATS_USER/NATS_PASSWORD) or --creds FILE"
)


class CannotCheck(Exception):
    """A failure to read the server, as the one line to print."""


def load_context(name):
    """The settings of a nats CLI context: a JSON file, or a name in the nats config dir."""
    path = name
    if not os.path.isfile(path):
        config = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        path = os.path.join(config, "nats", "context", name + ".json")
        if os.sep in name or not os.path.isfile(path):
            raise CannotCheck(f"context {name}: no such file or nats CLI context")
    try:
        with open(path, encoding="utf-8") as file:
            settings = json.load(file)
    except (OSError, ValueError) as err:
        raise CannotCheck(f"cannot read context {path}: {err}") from None
    if not isinstance(settings, dict):
        raise CannotCheck(f"context {path} is not a JSON object")
    return settings


def connection(args):
    """The server URL and nats-py connect options: the context, then flags and variables."""
    settings = load_context(args.context) if args.context else {}
    url = args.server or settings.get("url") or DEFAULT_URL
    user = args.user if args.user is not None else settings.get("user")
    password = args.password if args.password is not None else settings.get("password")
    token = settings.get("token")
    if args.user and args.password is None and not settings.get("password"):
        user, token = None, args.user  # like the nats CLI: a user without a password is a token
    options = {}
    if user:
        options["user"] = user
        options["password"] = password or ""
    elif token:
        options["token"] = token
    creds = args.creds or settings.get("creds")
    if creds:
        options["user_credentials"] = os.path.expanduser(creds)
    if settings.get("nkey") and not creds and not user:
        options["nkeys_seed"] = os.path.expanduser(settings["nkey"])
    ca = args.tlsca or settings.get("ca")
    cert = args.tlscert or settings.get("cert")
    key = args.tlskey or settings.get("key")
    if ca or cert or key:
        import ssl

        try:
            tls = ssl.create_default_context(cafile=ca or None)
            if cert or key:
                tls.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError, TypeError) as err:
            raise CannotCheck(f"cannot load the TLS files: {err}") from None
        options["tls"] = tls
    return url, options


def describe_connect_error(err, url, options, seen):
    """One line for a failed connect; `seen` holds the errors nats-py reported on the way."""
    if "NoServers" in type(err).__name__ and seen:
        err = seen[-1]  # "no servers available" hides the real cause
    text = str(err).strip().strip("'\"")
    lowered = text.lower()
    if "authorization violation" in lowered or "authentication" in lowered or "authorization" in lowered:
        if any(k in options for k in ("user", "token", "user_credentials", "nkeys_seed")):
            who = f" as user {options['user']}" if "user" in options else ""
            return (
                f"authorization violation at {url}{who}: the server refused these credentials "
                "(a managed server makes new ones at every start: use the context file it prints now)"
            )
        return f"authorization violation at {url}: no credentials given; {CREDENTIALS_HINT}"
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return f"no answer from {url} within the connect timeout: is a NATS server listening there?"
    reason = text or type(err).__name__
    if "NoServers" in type(err).__name__ or isinstance(err, OSError):
        errno = getattr(err, "errno", None)
        reason = os.strerror(errno).lower() if errno else reason
        return (
            f"cannot reach {url} ({reason}): is the server running? A managed server listens on "
            "a random port: use the --context FILE that `parti-top host` prints"
        )
    return f"cannot connect to {url}: {type(err).__name__}: {reason}"


async def quiet(_err=None):
    """nats-py's default callbacks print tracebacks; failures are reported once, by main."""


def collector(seen):
    async def on_error(err):
        seen.append(err)

    return on_error


async def read(args, url, options):
    import nats
    from nats.js.errors import KeyNotFoundError, NoKeysError, NotFoundError, ServiceUnavailableError
    from nats.errors import NoRespondersError

    seen = []
    try:
        nc = await asyncio.wait_for(
            nats.connect(
                servers=[url],
                connect_timeout=args.timeout,
                allow_reconnect=False,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.1,
                error_cb=collector(seen),
                disconnected_cb=quiet,
                closed_cb=quiet,
                name="parti-top check-cluster",
                **options,
            ),
            timeout=args.timeout + 2,
        )
    except Exception as err:  # nats-py raises several unrelated types here
        raise CannotCheck(describe_connect_error(err, url, options, seen)) from None
    try:
        js = nc.jetstream()
        problems = []
        expected_ttls = TIMINGS[args.timing]
        values = {}
        for bucket, ttl in zip(BUCKETS, expected_ttls):
            try:
                info = await js.stream_info(f"KV_{bucket}")
            except NotFoundError:
                raise CannotCheck(
                    f"no bucket {bucket} at {url}: no parti cluster has run on this server "
                    "(start workers with `parti-top host`)"
                ) from None
            except (ServiceUnavailableError, NoRespondersError):
                raise CannotCheck(
                    f"JetStream is not enabled at {url}: parti needs a server started with --jetstream"
                ) from None
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
        return values, problems
    finally:
        try:
            await nc.close()
        except Exception:  # closing is best effort; the verdict is already known
            pass


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


def parse_args():
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="check-cluster.py",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--partitions", type=int, required=True, help="partitions the cluster runs")
    parser.add_argument("--timing", choices=sorted(TIMINGS), default="production",
                        help="timing preset the workers use (default production)")
    parser.add_argument("--workers", type=int, help="live workers to expect")
    conn = parser.add_argument_group("connection (as in the NATS tools)")
    conn.add_argument("--context", default=env("NATS_CONTEXT") or None, metavar="FILE|NAME",
                      help="nats CLI context: a JSON file, or a name in ~/.config/nats/context "
                           "(NATS_CONTEXT)")
    conn.add_argument("-s", "--server", default=env("NATS_URL") or None, metavar="URL",
                      help=f"server URL (NATS_URL; default the context's, else {DEFAULT_URL})")
    conn.add_argument("--user", default=env("NATS_USER") or None,
                      help="user name; without a password, a token (NATS_USER)")
    conn.add_argument("--password", default=env("NATS_PASSWORD") or None,
                      help="password (NATS_PASSWORD; prefer the variable or a context: "
                           "command lines are visible in ps)")
    conn.add_argument("--creds", default=env("NATS_CREDS") or None, metavar="FILE",
                      help="credentials file, JWT and NKey seed (NATS_CREDS)")
    conn.add_argument("--tlsca", default=env("NATS_CA") or None, metavar="FILE", help="CA (NATS_CA)")
    conn.add_argument("--tlscert", default=env("NATS_CERT") or None, metavar="FILE",
                      help="client certificate (NATS_CERT)")
    conn.add_argument("--tlskey", default=env("NATS_KEY") or None, metavar="FILE",
                      help="client key (NATS_KEY)")
    conn.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS",
                      help="connect timeout (default 5)")
    return parser.parse_args()


def fail(message):
    print(f"{PROG}: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def main():
    args = parse_args()
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    try:
        import nats  # noqa: F401  (checked here so that a missing module is one clear line)
    except ImportError:
        return fail("the Python NATS client is missing: install it with `python3 -m pip install nats-py`")
    try:
        url, options = connection(args)
    except CannotCheck as err:
        return fail(err)
    try:
        values, problems = asyncio.run(read(args, url, options))
    except CannotCheck as err:
        return fail(err)
    except KeyboardInterrupt:
        return fail("interrupted")
    except Exception as err:  # anything else nats-py raises while reading
        return fail(f"cannot read {url}: {type(err).__name__}: {err}")
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
