// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {IEscrow} from "./interfaces/IEscrow.sol";

/// @title EscrowBase
/// @notice Money mechanics every marketplace protocol shares: collecting exact payments in ETH
/// or an ERC-20 token, a per-(account, token) credit ledger, and pull withdrawals.
/// @dev Accounting rule for derived contracts: `_collect` adds to `totalOwed` (the derived
/// contract books the amount as an escrow or stake); `_credit` moves an amount the derived
/// contract already holds (escrow or stake it just released) into an account's credit, so
/// `totalOwed` is unchanged; only `withdraw` lowers it. Hence, at all times,
/// `totalOwed(token) == sum of open escrows and stakes + sum of credits` and the contract's
/// balance equals `totalOwed` (invariant-tested).
/// Every external function of a derived contract that moves money must be `nonReentrant`.
abstract contract EscrowBase is IEscrow, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @dev Token address standing for ETH.
    address internal constant ETH = address(0);

    mapping(address account => mapping(address token => uint256 amount)) private _credits;
    mapping(address token => uint256 amount) private _owed;

    /// @inheritdoc IEscrow
    function creditOf(address account, address token) external view returns (uint256) {
        return _credits[account][token];
    }

    /// @inheritdoc IEscrow
    function totalOwed(address token) external view returns (uint256) {
        return _owed[token];
    }

    /// @inheritdoc IEscrow
    function withdraw(address token) external nonReentrant returns (uint256 amount) {
        return _withdraw(msg.sender, token, msg.sender);
    }

    /// @inheritdoc IEscrow
    function withdrawTo(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroRecipient();
        return _withdraw(msg.sender, token, to);
    }

    /// @dev Takes exactly `amount` of `token` from `from` into the contract and adds it to
    /// `totalOwed`. ETH: `msg.value` must equal `amount` (and `from` must be `msg.sender`; call
    /// at most once per transaction frame). ERC-20: `msg.value` must be 0, and the contract's
    /// balance must grow by exactly `amount` (fee-on-transfer tokens are refused).
    function _collect(address token, address from, uint256 amount) internal {
        if (token == ETH) {
            if (msg.value != amount) revert EtherValueMismatch(amount, msg.value);
        } else {
            if (msg.value != 0) revert EtherValueMismatch(0, msg.value);
            IERC20 erc20 = IERC20(token);
            uint256 before = erc20.balanceOf(address(this));
            erc20.safeTransferFrom(from, address(this), amount);
            uint256 afterwards = erc20.balanceOf(address(this));
            uint256 received = afterwards > before ? afterwards - before : 0;
            if (received != amount) revert TransferAmountMismatch(token, amount, received);
        }
        _owed[token] += amount;
    }

    /// @dev Credits `amount` of `token` (already held by the contract as an escrow or stake the
    /// caller has just released) to `to`. Zero amounts are skipped (no event).
    function _credit(address to, address token, uint256 amount) internal {
        // Skipping zero credits is exact integer logic, not a balance comparison.
        // slither-disable-next-line incorrect-equality
        if (amount == 0) return;
        _credits[to][token] += amount;
        emit Credited(to, token, amount);
    }

    /// @dev Zeroes the credit before transferring (checks-effects-interactions, plus the
    /// callers' `nonReentrant`).
    function _withdraw(address account, address token, address to) private returns (uint256 amount) {
        amount = _credits[account][token];
        if (amount == 0) revert NothingToWithdraw(account, token);
        _credits[account][token] = 0;
        _owed[token] -= amount;
        emit Withdrawn(account, token, to, amount);
        if (token == ETH) {
            Address.sendValue(payable(to), amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
