"""The pinned Ethereum toolchain end to end: solcjs shim -> compile -> real anvil -> deploy/call.

Needs `make node_modules/.installed` (anvil, forge and solcjs come from npm); fails, rather than
skips, without it, so a CI that forgot the install step cannot pass silently.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from zkmarket.chain import (
    EIP170_CODE_SIZE_LIMIT,
    Anvil,
    AnvilError,
    ChainError,
    CompileError,
    DeploymentError,
    TransactionError,
    call_raw,
    compile_source,
    compile_sources,
    deploy,
    send_raw,
    solc_version,
)
from zkmarket.chain.paths import repo_root, solc_shim

pytestmark = pytest.mark.integration

COUNTER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract Counter is Ownable {
    uint256 public count;

    constructor(uint256 start) Ownable(msg.sender) {
        count = start;
    }

    function inc() external onlyOwner {
        count += 1;
    }

    function boom() external pure {
        revert("boom");
    }
}
"""

# Runtime code of exactly `n` zero bytes: lets the test sit right on the EIP-170 boundary.
SIZED = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Sized {
    constructor(uint256 n) {
        assembly {
            return(0, n)
        }
    }
}
"""


def selector(contract, signature: str) -> bytes:
    return bytes.fromhex(contract.method_identifiers[signature])


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


@pytest.fixture(scope="module")
def node():
    with Anvil() as anvil:
        yield anvil


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


def test_solc_shim_reports_pinned_version():
    assert solc_version().startswith("0.8.28+commit.")
    assert solc_version().endswith(".Linux.g++")


def test_solc_shim_legacy_bin_mode():
    """`solc --bin -` (what snark-verifier's compile_solidity runs): last token is the bytecode."""
    out = subprocess.run([str(solc_shim()), "--bin", "-"], input=SIZED.encode(), capture_output=True,
                         timeout=120, check=True)
    text = out.stdout.decode()
    assert "======= <stdin>:Sized =======" in text
    bytes.fromhex(text.split()[-1])


def test_anvil_dev_accounts_are_funded(node, w3):
    assert w3.eth.chain_id == node.chain_id
    assert len(node.accounts) == 10
    for acct in node.accounts[:3]:
        assert w3.eth.get_balance(acct.address) == 10_000 * 10**18
    assert int(w3.eth.get_block("latest")["gasLimit"]) == node.gas_limit


def test_compile_deploy_call_send(node, w3):
    counter = compile_source(COUNTER, filename="Counter.sol")
    assert counter.name == "Counter"
    assert 0 < counter.deployed_size <= EIP170_CODE_SIZE_LIMIT
    owner, other = node.accounts[0], node.accounts[1]

    dep = deploy(w3, counter, private_key=owner.private_key, args=(41,))
    assert dep.code_size == counter.deployed_size
    assert dep.gas_used > 21_000

    res = call_raw(w3, dep.address, selector(counter, "count()"))
    assert res.success and res.returndata == word(41)
    assert res.gas_estimate is not None and res.gas_estimate > 21_000

    receipt = send_raw(w3, dep.address, selector(counter, "inc()"), private_key=owner.private_key)
    assert receipt["status"] == 1
    assert call_raw(w3, dep.address, selector(counter, "count()")).returndata == word(42)

    reverted = call_raw(w3, dep.address, selector(counter, "boom()"))
    assert not reverted.success and reverted.gas_estimate is None
    assert b"boom" in reverted.returndata and "boom" in reverted.error

    with pytest.raises(TransactionError, match="0x118cdaa7"):  # OwnableUnauthorizedAccount
        send_raw(w3, dep.address, selector(counter, "inc()"), private_key=other.private_key)
    # With explicit gas the tx is mined and reverts: the receipt check must catch it.
    with pytest.raises(TransactionError, match="reverted") as info:
        send_raw(w3, dep.address, selector(counter, "inc()"), private_key=other.private_key, gas=100_000)
    assert info.value.receipt["status"] == 0 and info.value.tx_hash


def test_compile_error_names_file_and_line():
    bad = COUNTER.replace("count += 1;", "count += missing;")
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "missing" in text)  # 14
    with pytest.raises(CompileError) as info:
        compile_source(bad, filename="Broken.sol")
    err = info.value
    assert len(err.errors) == 1
    assert (err.errors[0].file, err.errors[0].line) == ("Broken.sol", line)
    assert err.errors[0].type == "DeclarationError"
    assert f"Broken.sol:{line}:" in str(err) and "missing" in str(err)
    assert isinstance(err, ChainError)


def test_compile_cache_sees_edited_imports(tmp_path):
    lib = tmp_path / "Lib.sol"
    main = 'pragma solidity ^0.8.24;\nimport {K} from "./Lib.sol";\ncontract Main { uint256 public v = K; }\n'
    lib.write_text("pragma solidity ^0.8.24;\nuint256 constant K = 1;\n")
    first = compile_sources({"Main.sol": main}, base_path=tmp_path, remappings=())
    again = compile_sources({"Main.sol": main}, base_path=tmp_path, remappings=())
    assert again.from_cache and again["Main"].bytecode == first["Main"].bytecode
    lib.write_text("pragma solidity ^0.8.24;\nuint256 constant K = 2;\n")
    edited = compile_sources({"Main.sol": main}, base_path=tmp_path, remappings=())
    assert not edited.from_cache and edited["Main"].bytecode != first["Main"].bytecode


def test_eip170_code_size_limit_is_enforced(node, w3):
    sized = compile_source(SIZED, filename="Sized.sol")
    key = node.accounts[2].private_key

    at_limit = deploy(w3, sized, private_key=key, args=(EIP170_CODE_SIZE_LIMIT,))
    assert at_limit.code_size == EIP170_CODE_SIZE_LIMIT == 24_576

    with pytest.raises(DeploymentError, match="eth_estimateGas refused"):
        deploy(w3, sized, private_key=key, args=(EIP170_CODE_SIZE_LIMIT + 1,))
    # Sent anyway (explicit gas, no estimation): mined, but the creation fails and stores no code.
    with pytest.raises(DeploymentError, match="failed") as info:
        deploy(w3, sized, private_key=key, args=(EIP170_CODE_SIZE_LIMIT + 1,), gas=10_000_000)
    receipt = info.value.receipt
    assert receipt["status"] == 0
    assert receipt.get("contractAddress") is None or w3.eth.get_code(receipt["contractAddress"]) == b""


def test_anvil_refuses_to_disable_code_size_limit():
    with pytest.raises(AnvilError, match="EIP-170"):
        Anvil(extra_args=["--disable-code-size-limit"])


def test_anvil_stop_kills_process():
    anvil = Anvil(accounts=1).start()
    pid = anvil._proc.pid
    assert anvil.rpc("eth_chainId") == hex(anvil.chain_id)
    anvil.stop()
    assert not anvil.running
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_toolchain_lives_in_the_repo():
    root = repo_root()
    assert (root / "node_modules" / "solc" / "package.json").is_file()
    assert solc_shim() == root / "tools" / "solc"
