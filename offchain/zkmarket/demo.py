"""`make demo`: the prover end to end on a local chain.

Compiles the digits CNN into a circuit (hidden input and hidden weights, top-1 class output),
sets up keys, proves a test image, verifies the proof natively and through the generated
Solidity verifier deployed on a fresh anvil, and shows that a tampered proof is refused.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.table import Table

from . import prover as zp
from .chain import Anvil, deploy_verifier, verify_onchain
from .model.data import DIGITS_MODEL, load_digits_split
from .prover import stages


def _timed(console: Console, what: str, fn):
    with console.status(what):
        start = time.perf_counter()
        result = fn()
    elapsed = time.perf_counter() - start
    console.print(f"[green]done[/] {what} ({elapsed:.1f} s)")
    return result, elapsed


def main() -> None:
    console = Console()
    split = load_digits_split()
    image, label = split.test_inputs[0], int(split.test_labels[0])
    circuit, _ = _timed(console, "compile the digits CNN into a circuit", lambda: zp.compile_model(DIGITS_MODEL))
    s = stages.stats(circuit)
    keys, t_setup = _timed(console, f"key generation at 2^{s['k']} rows (insecure dev SRS)", lambda: zp.setup(circuit))
    proof, t_prove = _timed(console, "prove one test image", lambda: zp.prove(circuit, keys, image))
    ok, t_verify = _timed(console, "verify natively", lambda: zp.verify(circuit, keys, proof))
    if not ok:
        raise SystemExit("native verification failed")
    with Anvil() as anvil:
        w3, key = anvil.w3(), anvil.accounts[0].private_key
        dep, _ = _timed(console, "deploy the generated verifier on anvil",
                        lambda: deploy_verifier(w3, zp.export_verifier(circuit, keys), private_key=key))
        onchain = verify_onchain(w3, dep.address, stages.calldata(proof), private_key=key)
        tampered = bytearray(stages.calldata(proof))
        tampered[-1] ^= 1
        refused = not verify_onchain(w3, dep.address, bytes(tampered)).accepted
    table = Table(title="zkmarket prover demo")
    table.add_column("what")
    table.add_column("value", justify="right")
    for row in [
        ("true label / proved class", f"{label} / {proof.predicted_class}"),
        ("circuit rows / advice columns / lookup tables", f"2^{s['k']} / {s['advice_columns']} / {s['lookup_tables']}"),
        ("key generation", f"{t_setup:.1f} s"),
        ("proving", f"{t_prove:.1f} s"),
        ("native verification", f"{t_verify * 1000:.0f} ms"),
        ("proof size", f"{len(proof.proof) // 2 - 1} bytes"),
        ("verifier code size", f"{dep.code_size} bytes (limit 24,576)"),
        ("on-chain verification", f"{'accepted' if onchain.accepted else 'REJECTED'}, {onchain.gas_used:,} gas"),
        ("tampered proof on-chain", "refused" if refused else "ACCEPTED (bug)"),
    ]:
        table.add_row(*row)
    console.print(table)
    if not (onchain.accepted and refused):
        raise SystemExit("on-chain verification did not behave as expected")


if __name__ == "__main__":
    main()
