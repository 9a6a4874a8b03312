"""zkmarket.protocol: the marketplace's rules in plain Python, mirroring the contracts byte for
byte (leaf encodings, the audit subset, the data-transfer commitments) and amount for amount
(payouts), so off-chain parties compute exactly what the chain will accept."""

from .subset import subset_of
from .testset import CommittedTestSet, commit_test_set, example_leaf
from .transfer import (
                       EncryptedBatch,
                       ciphertext_digest,
                       ciphertext_leaf,
                       encrypt_batch,
                       key_commitment,
                       publish_batches,
                       published_items,
)

__all__ = [
    "subset_of", "CommittedTestSet", "commit_test_set", "example_leaf",
    "EncryptedBatch", "ciphertext_digest", "ciphertext_leaf", "encrypt_batch", "key_commitment",
    "publish_batches", "published_items",
]
