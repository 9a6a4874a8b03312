// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {IEscrow} from "../../src/interfaces/IEscrow.sol";

/// @notice Stand-in for a generated halo2 verifier (Foundry unit tests only; the real verifier is
/// exercised by the pytest integration tests). Raw-calldata interface like the real one.
contract MockVerifier {
    enum Mode {
        Accept, // return empty data (what snark-verifier's contract does on success)
        Reject, // revert (what it does on failure)
        ReturnTrueWord, // return abi.encode(uint256(1)) (an ABI-style adapter that accepts)
        ReturnFalseWord, // return abi.encode(uint256(0))
        ReturnTwoWords // return 64 bytes (malformed)
    }

    Mode public mode;
    /// @dev When nonzero, only this exact calldata is accepted (checks the instance layout).
    bytes32 public expectedCalldataHash;

    function setMode(Mode m) external {
        mode = m;
    }

    function expectCalldata(bytes calldata data) external {
        expectedCalldataHash = keccak256(data);
    }

    function clearExpectedCalldata() external {
        expectedCalldataHash = bytes32(0);
    }

    fallback(bytes calldata data) external returns (bytes memory) {
        if (expectedCalldataHash != bytes32(0) && keccak256(data) != expectedCalldataHash) revert("calldata");
        Mode m = mode;
        if (m == Mode.Reject) revert("invalid proof");
        if (m == Mode.ReturnTrueWord) return abi.encode(uint256(1));
        if (m == Mode.ReturnFalseWord) return abi.encode(uint256(0));
        if (m == Mode.ReturnTwoWords) return abi.encode(uint256(1), uint256(1));
        return "";
    }
}

/// @notice Plain ERC-20 with open minting.
contract MockERC20 is ERC20 {
    constructor(string memory name, string memory symbol) ERC20(name, symbol) {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}

/// @notice ERC-20 that burns 1% (at least 1 unit) of every transfer: must be refused.
contract FeeOnTransferERC20 is ERC20 {
    constructor() ERC20("Fee", "FEE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0) && value > 0) {
            uint256 fee = value / 100 == 0 ? 1 : value / 100;
            super._update(from, address(0), fee);
            super._update(from, to, value - fee);
        } else {
            super._update(from, to, value);
        }
    }
}

/// @notice Account that refuses ETH (withdraw to it fails; withdrawTo elsewhere works).
contract RejectingReceiver {
    function callWithdraw(IEscrow escrow, address token) external returns (uint256) {
        return escrow.withdraw(token);
    }

    function callWithdrawTo(IEscrow escrow, address token, address to) external returns (uint256) {
        return escrow.withdrawTo(token, to);
    }

    receive() external payable {
        revert("no ETH");
    }
}

/// @notice Account that tries to withdraw again from inside the ETH transfer.
contract ReentrantReceiver {
    IEscrow public escrow;

    function callWithdraw(IEscrow escrow_) external returns (uint256) {
        escrow = escrow_;
        return escrow_.withdraw(address(0));
    }

    receive() external payable {
        escrow.withdraw(address(0));
    }
}

/// @notice Smart-contract wallet (ERC-1271) whose signer is an EOA key.
contract ERC1271Wallet is IERC1271 {
    address public immutable signer;

    constructor(address signer_) {
        signer = signer_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer ? this.isValidSignature.selector : bytes4(0);
    }

    function execute(address target, uint256 value, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    receive() external payable {}
}
