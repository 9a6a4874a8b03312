// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IEscrow
/// @notice The pull-payment ledger every marketplace contract shares (EscrowBase).
/// @dev Token address(0) is ETH. Each contract holds, per token, exactly what it owes:
/// `balance(token) == totalOwed(token)` = escrows + stakes + credits (it can only be more if
/// someone forces ETH in or transfers tokens to it directly; that surplus is never paid out).
/// Payouts are never pushed: a transition credits each party, and each party calls
/// `withdraw` (or `withdrawTo`) for itself.
interface IEscrow {
    /// @notice `account` may now withdraw `amount` more of `token`.
    event Credited(address indexed account, address indexed token, uint256 amount);

    /// @notice `account` withdrew its whole credit `amount` of `token`, sent to `to`.
    event Withdrawn(address indexed account, address indexed token, address indexed to, uint256 amount);

    /// @notice An ETH payment carried `received` wei where `expected` were due (0 for ERC-20 payments).
    error EtherValueMismatch(uint256 expected, uint256 received);

    /// @notice An ERC-20 transfer moved `received` instead of `expected` into the contract
    /// (fee-on-transfer and other balance-changing tokens are refused).
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);

    /// @notice `account` has no credit in `token`.
    error NothingToWithdraw(address account, address token);

    /// @notice Withdrawal to the zero address.
    error ZeroRecipient();

    /// @notice Credit of `account` in `token`, withdrawable now.
    function creditOf(address account, address token) external view returns (uint256);

    /// @notice Everything the contract owes in `token`: open escrows, stakes and credits.
    function totalOwed(address token) external view returns (uint256);

    /// @notice Sends the caller's whole credit in `token` to the caller.
    /// @return amount What was sent.
    function withdraw(address token) external returns (uint256 amount);

    /// @notice Sends the caller's whole credit in `token` to `to` (for accounts that cannot
    /// receive ETH themselves).
    /// @return amount What was sent.
    function withdrawTo(address token, address to) external returns (uint256 amount);
}
