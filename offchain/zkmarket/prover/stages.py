"""The prover's stages. Keys and SRS files are cached under the project's ``.cache`` dir."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path

import zkmarket_prover as native

from .artifacts import CompiledCircuit, Keys, Proof, Srs
from .errors import ArtifactError, InputError, SrsError


class Visibility(str, Enum):
    """What stays private (paper 4.2); the input is bound by its Poseidon commitment always."""

    HIDDEN_INPUT = "hidden-input"  # public weights (fixed in the circuit)
    HIDDEN_WEIGHTS = "hidden-weights"  # public input
    HIDDEN_BOTH = "hidden-both"


def cache_dir(*parts: str) -> Path:
    """``$ZKMARKET_CACHE_DIR`` or ``.cache/zkmarket`` in the working directory."""
    root = Path(os.environ.get("ZKMARKET_CACHE_DIR", Path.cwd() / ".cache" / "zkmarket"))
    d = root.joinpath(*parts)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _atomic_write(path: Path, write) -> None:
    """Writes through a temporary name so a crash never leaves a half-written artifact."""
    tmp = path.with_name(path.name + ".part")
    write(str(tmp))
    os.replace(tmp, path)


def flatten_input(values) -> list[int]:
    """Accepts a flat or nested (H, W, C) list of bytes, or a numpy array; `InputError` for any
    value that is not an integer in 0..255 (checked here: the native prover takes machine ints)."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    out: list[int] = []

    def walk(v) -> None:
        if isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, bool) or not isinstance(v, int):
            raise InputError(f"input values must be integers, got {v!r}")
        elif not 0 <= v <= 255:
            raise InputError(f"input[{len(out)}] = {v} is not a byte (0..=255)")
        else:
            out.append(v)

    walk(values)
    return out


def _model_json(model: str | Path | dict) -> str:
    if isinstance(model, dict):
        return json.dumps(model)
    try:
        return Path(model).read_text()
    except OSError as e:
        raise InputError(f"cannot read model file {model}: {e}") from e


MATMUL_CHECKS = ("auto", "direct", "freivalds")


def compile_model(model: str | Path | dict, visibility: Visibility | str = Visibility.HIDDEN_BOTH,
                  output: str = "class", dot_width: int = native.DEFAULT_DOT_WIDTH,
                  matmul: str = "auto", byte_pairs: bool | None = None) -> CompiledCircuit:
    """Compiles a quantized model (docs/model-format.md) into circuit settings.

    `matmul` says how convolutions and fully connected layers are checked: every product in a
    dot-product chain ("direct"), Freivalds' test with challenges from a second proof phase
    ("freivalds"), or per layer whichever takes fewer rows ("auto"). `byte_pairs` adds every pair
    of bytes to the lookup table so that range checks and packing take half the rows (2^16 more
    table rows); None chooses it only when it lowers the circuit's height.
    """
    return CompiledCircuit(native.compile(_model_json(model), Visibility(visibility).value, output, dot_width,
                                          matmul, byte_pairs))


def stats(circuit: CompiledCircuit) -> dict:
    """Rows, columns, lookups and tables of the circuit."""
    return json.loads(native.stats(circuit.settings_json))


def dev_srs(k: int) -> Srs:
    """An INSECURE locally generated SRS (public seed): for development and tests only."""
    path = cache_dir("srs") / f"insecure-dev-k{k}.srs"
    if not path.exists():
        _atomic_write(path, lambda p: native.write_dev_srs(k, p))
    return Srs(path=path, sha256=native.sha256_file(str(path)), k=k, insecure=True,
               origin="INSECURE development SRS (public seed): local chains only")


PTAU_MAGIC = b"ptau"
DEV_FINGERPRINT_K = 4  # the smallest dev SRS: its tau is the one of every k


def load_srs(path: str | Path, expected_sha256: str, k: int) -> Srs:
    """A published powers-of-tau file, refused unless its SHA-256 is the expected (published) one:
    halo2 KZG format, or snarkjs / Perpetual Powers of Tau `.ptau` (its first 2^k powers converted
    once to halo2's format, checked, and cached by the .ptau file's hash)."""
    actual = native.sha256_file(str(path))
    if actual.lower() != expected_sha256.lower().removeprefix("0x"):
        raise SrsError(f"{path} has SHA-256 {actual}, expected {expected_sha256}")
    with open(path, "rb") as f:
        is_ptau = f.read(len(PTAU_MAGIC)) == PTAU_MAGIC
    if not is_ptau:
        return Srs(path=Path(path), sha256=actual, k=k, insecure=False, origin=f"halo2 KZG file, SHA-256 {actual}")
    converted = cache_dir("srs") / f"ptau-{actual[:16]}-k{k}.srs"
    if not converted.exists():
        _atomic_write(converted, lambda p: native.ptau_to_srs(str(path), k, p))
    return Srs(path=converted, sha256=native.sha256_file(str(converted)), k=k, insecure=False,
               origin=f".ptau file, SHA-256 {actual}, first 2^{k} powers")


def srs_fingerprint(srs: Srs) -> list[str]:
    """Two 32-byte words (hex) that every verifier made with `srs` carries in its code: the x
    coordinate of [tau]G2, which its pairing check needs."""
    return native.srs_fingerprint(str(srs.path))


def uses_dev_srs(verifier_code: bytes) -> bool:
    """Whether a deployed verifier's code trusts the INSECURE development SRS (public seed,
    forgeable proofs): every dev SRS shares one tau, so one fingerprint serves all k."""
    return all(bytes.fromhex(w[2:]) in verifier_code for w in srs_fingerprint(dev_srs(DEV_FINGERPRINT_K)))


def setup(circuit: CompiledCircuit, srs: Srs | None = None) -> Keys:
    """Generates (or reuses from the cache) the proving and verifying keys."""
    srs = srs or dev_srs(circuit.k)
    if srs.k < circuit.k:
        raise SrsError(f"the SRS holds 2^{srs.k} points, the circuit needs 2^{circuit.k}")
    d = cache_dir("keys", f"{circuit.id}-{srs.sha256[:16]}")
    keys = Keys(pk_path=d / "pk.bin", vk_path=d / "vk.bin", srs=srs)
    if not (keys.pk_path.exists() and keys.vk_path.exists()):
        pk_tmp, vk_tmp = d / "pk.bin.part", d / "vk.bin.part"
        native.setup(circuit.settings_json, str(srs.path), srs.sha256, str(pk_tmp), str(vk_tmp))
        os.replace(vk_tmp, keys.vk_path)
        os.replace(pk_tmp, keys.pk_path)
    return keys


def prove(circuit: CompiledCircuit, keys: Keys, input_values) -> Proof:
    """Proves one inference; the returned proof carries its public instances and outputs."""
    out = json.loads(native.prove(circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                                  str(keys.pk_path), flatten_input(input_values)))
    return Proof(proof=out["proof"], instances=out["instances"], logits=out["logits"],
                 predicted_class=out["class"], circuit_id=circuit.id)


def verify(circuit: CompiledCircuit, keys: Keys, proof: Proof) -> bool:
    """Native verification (what the on-chain verifier checks, without the chain)."""
    if proof.circuit_id != circuit.id:
        raise ArtifactError(f"proof is for circuit {proof.circuit_id}, not {circuit.id}")
    return native.verify(circuit.settings_json, str(keys.srs.path), keys.srs.sha256,
                         str(keys.vk_path), proof.proof, proof.instances)


def export_verifier(circuit: CompiledCircuit, keys: Keys) -> str:
    """Solidity source of the on-chain verifier for this circuit, headed by which SRS made it."""
    source = native.export_verifier(circuit.settings_json, str(keys.srs.path), keys.srs.sha256, str(keys.vk_path))
    header = (f"// zkmarket verifier of circuit {circuit.id}\n// SRS: {keys.srs.origin}\n"
              f"// SRS as halo2 KZG file: SHA-256 {keys.srs.sha256}\n")
    return header + source


def calldata(proof: Proof) -> bytes:
    """Calldata for the generated verifier: the instances as 32-byte words, then the proof."""
    return bytes(native.calldata(proof.proof, proof.instances))


def commit_input(input_values) -> str:
    """Poseidon commitment to an input, as the circuit computes it (hex)."""
    return native.commit_input(flatten_input(input_values))


def commit_weights(model: str | Path | dict) -> str:
    """Poseidon commitment to a model's weights and biases, as the circuit computes it (hex)."""
    return native.commit_weights(_model_json(model))


def poseidon_hash(elements: list[int]) -> int:
    """Poseidon over BN254 field elements with the circuit's parameters (docs/model-format.md)."""
    return int(native.poseidon_hash([hex(e) for e in elements]), 16)


def evaluate(model: str | Path | dict, input_values) -> tuple[list[int], int]:
    """The circuit's own integer inference: (logits, top-1 class), without proving."""
    logits, cls = native.evaluate(_model_json(model), flatten_input(input_values))
    return list(logits), cls


def load_input(path: str | Path) -> list[int]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read input file {path}: {e}") from e
    if isinstance(data, dict):
        data = data.get("input")
    return flatten_input(data)



