#!/usr/bin/env python3
"""A tusk client in Python, over plain grpcio and stubs generated from tusk.proto.

Looks up each KEY with Get, then all of them with one MultiGet (every answer from
the same version), then shows the node's Status for DOMAIN. See README.md beside
this file for generating the stubs.

    client.py 127.0.0.1:7070 pages home about
    client.py https://tusk-1:7070 --tls-ca ca.pem pages home
"""

import argparse
import json
import sys

try:
    import grpc
    from tusk.v1 import tusk_pb2, tusk_pb2_grpc
except ImportError as err:
    sys.exit(
        f"client.py: {err}: install grpcio (./scripts/install-grpcio) and generate the "
        "stubs from proto/tusk/v1/tusk.proto (see examples/python/README.md), then put "
        "both on PYTHONPATH"
    )


def show(value):
    """A value as a JSON string: UTF-8 text, other bytes as \\x escapes."""
    return json.dumps(value.decode("utf-8", "backslashreplace"), ensure_ascii=False)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def channel(args):
    """A channel to the server: TLS when the address is https:// or a CA is given."""
    target = args.server
    tls = args.tls_ca is not None or target.startswith("https://")
    for scheme in ("https://", "http://"):
        if target.startswith(scheme):
            target = target[len(scheme):]
    target = target.rstrip("/")
    if not tls:
        if args.tls_cert or args.tls_key:
            sys.exit("client.py: --tls-cert/--tls-key need TLS (--tls-ca or https://)")
        return grpc.insecure_channel(target)
    if args.tls_ca is None:
        sys.exit("client.py: an https:// server needs --tls-ca (the CA to trust)")
    if (args.tls_cert is None) != (args.tls_key is None):
        sys.exit("client.py: --tls-cert and --tls-key go together")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.tls_ca),
        private_key=read(args.tls_key) if args.tls_key else None,
        certificate_chain=read(args.tls_cert) if args.tls_cert else None,
    )
    return grpc.secure_channel(target, credentials)


def run(args):
    keys = [k.encode("utf-8") for k in args.keys]
    with channel(args) as ch:
        stub = tusk_pb2_grpc.TuskStub(ch)
        t = args.timeout

        for key in keys:
            r = stub.Get(tusk_pb2.GetRequest(domain=args.domain, key=key), timeout=t)
            answer = f"found {show(r.value)}" if r.found else "not found"
            print(f"Get {show(key)}: {answer} (version {r.version})")

        r = stub.MultiGet(tusk_pb2.MultiGetRequest(domain=args.domain, keys=keys), timeout=t)
        print(f"MultiGet {len(keys)} keys (version {r.version}):")
        for key, entry in zip(keys, r.entries):
            answer = f"found {show(entry.value)}" if entry.found else "not found"
            print(f"  {show(key)}: {answer}")

        r = stub.Status(tusk_pb2.StatusRequest(), timeout=t)
        print(f"Status: node {r.node.node_name}, tusk {r.node.tusk_version}")
        for d in r.domains:
            if d.name != args.domain:
                continue
            state = tusk_pb2.DomainState.Name(d.state).removeprefix("DOMAIN_STATE_")
            print(
                f"  {d.name}: {state} version {d.current_version or '(none)'}, "
                f"local [{', '.join(d.local_versions)}]"
                + (f", last error: {d.last_error}" if d.last_error else "")
            )
            break
        else:
            print(f"  {args.domain}: not served by this node")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", help="host:port, http://host:port or https://host:port")
    parser.add_argument("domain", help="domain to read")
    parser.add_argument("keys", nargs="+", metavar="KEY", help="keys to look up (UTF-8)")
    parser.add_argument("--tls-ca", help="PEM CA to trust (turns TLS on)")
    parser.add_argument("--tls-cert", help="PEM client certificate (mutual TLS)")
    parser.add_argument("--tls-key", help="PEM key of --tls-cert")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per call (default 5)")
    args = parser.parse_args()
    try:
        run(args)
    except grpc.RpcError as err:
        sys.exit(f"client.py: {err.code().name}: {err.details()}")


if __name__ == "__main__":
    main()
