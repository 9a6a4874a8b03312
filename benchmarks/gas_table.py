"""Prints gas per party and transaction type from ContractSession.gas_used (benchmarks share it)."""

from __future__ import annotations


def print_gas_table(gas_used: dict[tuple[str, str], list[int]], parties: dict[str, str]) -> None:
    print(f"{'party':<10}{'transaction':<18}{'txs':>5}{'gas total':>14}{'gas/tx':>12}")
    everything = 0
    for address, party in parties.items():
        total = 0
        for (sender, fn), values in sorted(gas_used.items()):
            if sender == address:
                total += sum(values)
                print(f"{party:<10}{fn:<18}{len(values):>5}{sum(values):>14,}{sum(values) // len(values):>12,}")
        print(f"{party:<10}{'TOTAL':<18}{'':>5}{total:>14,}")
        everything += total
    print(f"{'all':<10}{'TOTAL':<18}{'':>5}{everything:>14,}")
