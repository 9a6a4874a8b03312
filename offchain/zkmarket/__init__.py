"""zkmarket: trustless ML inference marketplace (halo2 proofs, Solidity escrow)."""
