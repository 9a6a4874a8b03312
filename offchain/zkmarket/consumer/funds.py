"""Credits (pull payments) across the deployment's contracts, and withdrawing them."""

from __future__ import annotations

from .client import ConsumerClient


def escrow_contracts(client: ConsumerClient) -> dict:
    """The deployment's contracts that keep a credit ledger (IEscrow: creditOf / withdraw)."""
    return {name: c for name, c in client.contracts.items()
            if any(item.get("name") == "creditOf" for item in c.abi)}


def credits(client: ConsumerClient, tokens: list[str]) -> list[tuple[str, str, int]]:
    """(contract name, token, credit) for every non-zero credit of the account."""
    out = []
    for name, c in escrow_contracts(client).items():
        for token in tokens:
            amount = client.call(c, "creditOf", client.address, token)
            if amount:
                out.append((name, token, amount))
    return out


def withdraw_all(client: ConsumerClient, tokens: list[str]) -> list[tuple[str, str, int]]:
    """Withdraws every credit; returns what was paid out, per contract and token."""
    paid = []
    for name, token, amount in credits(client, tokens):
        client.send(client.contracts[name], "withdraw", [token])
        paid.append((name, token, amount))
    return paid
