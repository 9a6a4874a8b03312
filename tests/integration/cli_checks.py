"""Running `zkmarket` in-process through click's CliRunner, and checking how a command ended."""

from __future__ import annotations

from click.testing import CliRunner

from zkmarket.cli import main


def cli_as(deployment, rpc_url: str, account):
    """`cli(*args, account=..., key=...)`: one `zkmarket` command against ``deployment`` with
    ``account``'s key (or another account / raw key for this call)."""
    runner = CliRunner(mix_stderr=False)

    def cli(*args: str, account=account, key: str | None = None):
        env = {"ZKMARKET_PRIVATE_KEY": key or account.private_key, "ZKMARKET_DEPLOYMENT": str(deployment),
               "ZKMARKET_RPC_URL": rpc_url}
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return cli


def ok(result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def fails(result, *needles: str, code: int = 1) -> str:
    """The command's one-line error (exit ``code``), which names every needle."""
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    err = result.stderr.strip()
    assert err.startswith("error: ") and "Traceback" not in err and len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"
    return err
