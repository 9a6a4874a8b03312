"""The one `zkmarket` command; subcommands per role. Errors print one clear line, exit 1."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

import zkmarket_prover

from . import prover as zp
from .cli_params import ExistingFile, fail, option_group
from .prover import aggregation, stages


class _Group(click.Group):
    """The one place where the project's expected errors (each package's root) become one line on
    stderr instead of a traceback: exit 1, or 3 for a wait given up (it can be resumed)."""

    def invoke(self, ctx):
        from requests.exceptions import RequestException
        from web3.exceptions import Web3Exception

        from .chain import ChainError
        from .consumer.errors import ConsumerError, WaitTimeout
        from .market.errors import MarketError
        from .model.errors import ModelError
        from .participants.errors import ParticipantError
        from .store import StoreError

        try:
            return super().invoke(ctx)
        except WaitTimeout as e:
            fail(str(e), 3)
        except (ConsumerError, MarketError, ChainError, zp.ProverError, ParticipantError, ModelError, StoreError,
                OSError) as e:
            fail(str(e))
        except RequestException as e:
            fail(f"lost the connection to the node ({type(e).__name__}: {e}); the command can be run again")
        except Web3Exception as e:
            fail(f"{type(e).__name__}: {e}")


@click.group(cls=_Group)
def main() -> None:
    """zkmarket: a trustless marketplace for ML inference with halo2 proofs."""


@main.group()
def prover() -> None:
    """Compile models into circuits, set up keys, prove, verify, commit, export verifiers."""


def _srs_for(circuit: zp.CompiledCircuit, srs: str | None, srs_sha256: str | None) -> zp.Srs:
    if srs is None:
        click.echo("warning: using the INSECURE development SRS (public seed); never use it on a public chain", err=True)
        return zp.dev_srs(circuit.k)
    if not srs_sha256:
        raise click.UsageError("--srs needs --srs-sha256 (the published hash of the powers-of-tau file)")
    return zp.load_srs(srs, srs_sha256, circuit.k)


srs_options = option_group(
    click.option("--srs", type=ExistingFile(),
                 help="published powers-of-tau file: halo2 KZG format or snarkjs / Perpetual Powers of Tau .ptau"),
    click.option("--srs-sha256", help="expected SHA-256 of --srs"),
)


@prover.command("compile")
@click.argument("model", type=ExistingFile())
@click.option("--visibility", type=click.Choice([v.value for v in zp.Visibility]), default="hidden-both", show_default=True)
@click.option("--output", "output_kind", type=click.Choice(["class", "logits"]), default="class", show_default=True)
@click.option("--dot-width", type=int, default=zkmarket_prover.DEFAULT_DOT_WIDTH, show_default=True,
              help="multiply-accumulates per row (wider: fewer rows, more columns, more verifier gas)")
@click.option("--matmul", type=click.Choice(stages.MATMUL_CHECKS), default="auto", show_default=True,
              help="how convolutions and fully connected layers are checked: every product, Freivalds' "
                   "test (a second proof phase), or per layer whichever takes fewer rows")
@click.option("--byte-pairs/--no-byte-pairs", default=None,
              help="all byte pairs in the lookup table: half the range-check rows, 2^16 more table rows "
                   "[default: only when that lowers the circuit's height]")
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="circuit settings file to write")
def compile_cmd(model, visibility, output_kind, dot_width, matmul, byte_pairs, out):
    """Compile a quantized MODEL (docs/model-format.md) into a circuit."""
    circuit = zp.compile_model(model, visibility, output_kind, dot_width, matmul, byte_pairs)
    circuit.save(Path(out))
    s = stages.stats(circuit)
    checked = f", {s['freivalds_layers']} layers by Freivalds' test" if s["freivalds_layers"] else ""
    click.echo(f"circuit {circuit.id}: 2^{s['k']} rows, {s['advice_columns']} advice columns, "
               f"{s['lookup_tables']} lookup table, {s['instances']} public instances{checked} -> {out}")


@prover.command()
@click.argument("circuit", type=ExistingFile())
@srs_options
def setup(circuit, srs, srs_sha256):
    """Generate (or reuse) the proving and verifying keys of CIRCUIT."""
    c = zp.CompiledCircuit.load(Path(circuit))
    keys = zp.setup(c, _srs_for(c, srs, srs_sha256))
    click.echo(json.dumps({"pk": str(keys.pk_path), "vk": str(keys.vk_path), "srs": str(keys.srs.path)}, indent=1))


@prover.command()
@click.argument("circuit", type=ExistingFile())
@click.argument("input_file", type=ExistingFile())
@srs_options
@click.option("--for-aggregation", is_flag=True,
              help="a proof for `prover aggregate` (Poseidon transcript); the circuit's own verifier refuses it")
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="proof file to write")
def prove(circuit, input_file, srs, srs_sha256, for_aggregation, out):
    """Prove CIRCUIT on INPUT_FILE (JSON list of bytes, HWC, flat or nested)."""
    c, image = zp.CompiledCircuit.load(Path(circuit)), stages.load_input(input_file)
    prove_one = zp.prove_for_aggregation if for_aggregation else zp.prove
    proof = prove_one(c, zp.setup(c, _srs_for(c, srs, srs_sha256)), image)
    Path(out).write_text(proof.to_json())
    click.echo(f"class {proof.predicted_class}, logits {proof.logits} -> {out}")


@prover.command()
@click.argument("circuit", type=ExistingFile())
@click.argument("proof_file", type=ExistingFile())
@srs_options
def verify(circuit, proof_file, srs, srs_sha256):
    """Verify PROOF_FILE against CIRCUIT natively (exit 1 if invalid)."""
    c, proof = zp.CompiledCircuit.load(Path(circuit)), zp.Proof.load(Path(proof_file))
    ok = zp.verify(c, zp.setup(c, _srs_for(c, srs, srs_sha256)), proof)
    click.echo("valid" if ok else "INVALID")
    sys.exit(0 if ok else 1)


@prover.command("export-verifier")
@click.argument("circuit", type=ExistingFile())
@srs_options
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="Solidity file to write")
def export_verifier(circuit, srs, srs_sha256, out):
    """Write the Solidity verifier of CIRCUIT."""
    c = zp.CompiledCircuit.load(Path(circuit))
    Path(out).write_text(zp.export_verifier(c, zp.setup(c, _srs_for(c, srs, srs_sha256))))
    click.echo(f"verifier for circuit {c.id} -> {out}")


aggregation_options = option_group(
    click.option("--batch", type=click.IntRange(1, 64), required=True, help="proofs per aggregated proof"),
    click.option("--k", "agg_k", type=click.IntRange(18, 26), default=None,
                 help="one aggregation circuit of 2^k rows [default: --levels' default]"),
    click.option("--levels", default=None,
                 help="the aggregation tree, BATCH:K per level, first level first (e.g. 4:22,4:22,1:22 for 16) "
                      "[default: one level of 2^(20 + log2 batch) rows up to 4 proofs; above, levels of 4 at "
                      "2^22 and a last level of 1 at 2^22]"),
    click.option("--agg-srs", type=ExistingFile(), help="SRS of 2^k points (largest level), same powers of tau as --srs"),
    click.option("--agg-srs-sha256", help="expected SHA-256 of --agg-srs"),
)


def _aggregation_keys(c: zp.CompiledCircuit, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256):
    keys = zp.setup(c, _srs_for(c, srs, srs_sha256))
    try:
        levels = aggregation.parse_levels(levels) if levels else [(batch, agg_k)] if agg_k else aggregation.default_levels(batch)
    except zp.InputError as e:
        raise click.UsageError(str(e)) from None
    outer = None
    if agg_srs:
        if not agg_srs_sha256:
            raise click.UsageError("--agg-srs needs --agg-srs-sha256")
        outer = zp.load_srs(agg_srs, agg_srs_sha256, max(k for _, k in levels))
    elif not keys.srs.insecure:
        raise click.UsageError("a published --srs needs --agg-srs (2^k points of the same powers of tau)")
    shape = ",".join(f"{b}:{k}" for b, k in levels)
    click.echo(f"aggregation keys for {batch} proofs of circuit {c.id}, levels {shape} (made once, then cached)", err=True)
    return keys, zp.setup_aggregation(c, keys, batch, srs=outer, levels=levels, progress=_progress)


def _progress(message: str) -> None:
    click.echo(message, err=True)


@prover.command()
@click.argument("circuit", type=ExistingFile())
@click.argument("proof_files", nargs=-1, required=True, type=ExistingFile())
@srs_options
@aggregation_options
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="aggregated proof file to write")
def aggregate(circuit, proof_files, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256, out):
    """Aggregate PROOF_FILES (made with `prove --for-aggregation`) of CIRCUIT into one proof.
    A tree's intermediate proofs are kept in the cache: run again after a crash to resume."""
    c = zp.CompiledCircuit.load(Path(circuit))
    proofs = [zp.Proof.load(Path(f)) for f in proof_files]
    keys, agg = _aggregation_keys(c, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256)
    result = zp.aggregate(c, keys, agg, proofs, work_dir=stages.cache_dir("aggregation-work"), progress=_progress)
    Path(out).write_text(result.to_json())
    click.echo(f"{result.count} proofs of circuit {c.id} in one proof ({agg.batch} slots) -> {out}")


@prover.command("verify-aggregated")
@click.argument("circuit", type=ExistingFile())
@click.argument("proof_file", type=ExistingFile())
@srs_options
@aggregation_options
def verify_aggregated(circuit, proof_file, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256):
    """Verify an aggregated PROOF_FILE of CIRCUIT natively (exit 1 if invalid)."""
    c, proof = zp.CompiledCircuit.load(Path(circuit)), zp.AggregatedProof.load(Path(proof_file))
    _, agg = _aggregation_keys(c, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256)
    ok = zp.verify_aggregated(agg, proof)
    click.echo("valid" if ok else "INVALID")
    sys.exit(0 if ok else 1)


@prover.command("export-aggregation-verifier")
@click.argument("circuit", type=ExistingFile())
@srs_options
@aggregation_options
@click.option("-o", "--out", type=click.Path(dir_okay=False), required=True, help="Solidity file to write")
def export_aggregation_verifier(circuit, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256, out):
    """Write the Solidity verifier of the aggregation circuit for CIRCUIT."""
    c = zp.CompiledCircuit.load(Path(circuit))
    _, agg = _aggregation_keys(c, srs, srs_sha256, batch, agg_k, levels, agg_srs, agg_srs_sha256)
    Path(out).write_text(zp.export_aggregation_verifier(agg))
    click.echo(f"aggregation verifier for {agg.batch} proofs of circuit {c.id} -> {out}")


@prover.command()
@click.argument("kind", type=click.Choice(["input", "weights"]))
@click.argument("path", type=ExistingFile())
def commit(kind, path):
    """Poseidon commitment of an input file or of a model's weights, as the circuit computes it."""
    click.echo(zp.commit_input(stages.load_input(path)) if kind == "input" else zp.commit_weights(path))


@prover.command()
@click.argument("model", type=ExistingFile())
@click.argument("input_file", type=ExistingFile())
def infer(model, input_file):
    """Run the circuit's integer inference without proving."""
    logits, cls = zp.evaluate(model, stages.load_input(input_file))
    click.echo(json.dumps({"class": cls, "logits": logits}))


# Subcommand groups live next to their code; registered after main is defined.
from .agent.cli import provider  # noqa: E402
from .consumer.cli import audit, model, testset, withdraw  # noqa: E402
from .consumer.jobs_cli import retrieval_group, round_group  # noqa: E402
from .market.cli import deploy  # noqa: E402
from .planner.cli import plan  # noqa: E402
from .store.cli import store  # noqa: E402

for _command in (deploy, provider, model, testset, audit, round_group, retrieval_group, withdraw, plan, store):
    main.add_command(_command)

if __name__ == "__main__":
    main()
