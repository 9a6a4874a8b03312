"""`zkmarket store ...`: put and get objects in the local store or on a Kubo daemon."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import Digest, open_store
from .kubo import DEFAULT_API


@click.group()
@click.option("--backend", type=click.Choice(["local", "kubo"]), default="local", show_default=True,
              envvar="ZKMARKET_STORE_BACKEND", help="where objects live")
@click.option("--dir", "directory", type=click.Path(file_okay=False), envvar="ZKMARKET_STORE_DIR",
              help="local store directory [default: $XDG_DATA_HOME/zkmarket/store]")
@click.option("--kubo-api", default=DEFAULT_API, show_default=True,
              envvar="ZKMARKET_KUBO_API", help="Kubo RPC API address (for --backend kubo)")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="seconds per Kubo request")
@click.pass_context
def store(ctx, backend, directory, kubo_api, timeout):
    """Content-addressed objects (test sets, ciphertexts, models), checked on every read."""
    ctx.obj = lambda: open_store(backend, directory=directory, kubo_api=kubo_api, timeout=timeout)


@store.command()
@click.argument("file", type=click.File("rb"))
@click.pass_obj
def put(open_, file):
    """Store FILE (- for stdin); print its CID."""
    click.echo(open_().put(file.read()))


@store.command()
@click.argument("cid")
@click.option("-o", "--out", type=click.Path(dir_okay=False, writable=True), required=True,
              help="file to write (- for stdout)")
@click.option("--expect", "expected", metavar="ALG:HEX",
              help="also check a committed digest, e.g. keccak256:0x... or sha256:...")
@click.pass_obj
def get(open_, cid, out, expected):
    """Fetch CID, check it against its address (and --expect), write it to --out."""
    from .verify import fetch_verified

    s = open_()
    data = fetch_verified(s, cid, Digest.parse(expected)) if expected else s.get(cid)
    if out == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    Path(out).write_bytes(data)
    click.echo(f"{cid}: {len(data)} bytes verified -> {out}", err=True)


@store.command()
@click.argument("cid")
@click.pass_obj
def pin(open_, cid):
    """Keep CID from garbage collection (fails if the store cannot get it)."""
    open_().pin(cid)
    click.echo(f"pinned {cid}")


@store.command()
@click.argument("cid")
@click.pass_obj
def has(open_, cid):
    """Exit 0 if the store holds CID locally, 1 if not."""
    found = open_().has(cid)
    click.echo("yes" if found else "no")
    sys.exit(0 if found else 1)


@store.command()
@click.argument("file", type=click.File("rb"))
@click.argument("algorithm", type=click.Choice(["sha256", "keccak256"]), default="sha256")
def digest(file, algorithm):
    """Print the ALG:HEX digest of FILE, the form --expect takes and commitments use."""
    click.echo(str(Digest.of(file.read(), algorithm)))
