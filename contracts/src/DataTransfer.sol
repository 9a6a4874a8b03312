// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

import {KeccakStreamCipher} from "./crypto/KeccakStreamCipher.sol";
import {PoseidonT3} from "./crypto/PoseidonT3.sol";
import {
    ContestOpening,
    ContestProgress,
    IDataTransfer,
    ItemOpening,
    PublishedItem,
    Transfer,
    TransferOutcome,
    TransferState,
    TransferStatus
} from "./interfaces/IDataTransfer.sol";

/// @title DataTransfer
/// @notice The data-transfer sub-protocol of paper appendix B (see IDataTransfer for the flow),
/// as a base that a protocol moving data inherits: the protocol opens transfers with
/// `_openTransfer` and learns each transfer's end, exactly once, through `_onTransferResolved`,
/// where it applies the penalties of appendix B ("If MC does not respond or aborts in Stages 1,
/// 2, or 4, it is slashed. If MP does not respond in Stages 3 or 5, it is slashed.").
/// @dev Choices and limits:
///  * Stage 5 silence: a receiver that neither accepts nor contests by the contest deadline is
///    reported as ReceiverNoContinue (appendix B slashes MP for not responding in stage 5);
///    the inheriting protocol may treat it as Completed instead if its next stage has its own
///    deadline (e.g. when "continue" means the audit's next action).
///  * Stage 2 (delivery) happens off chain, so a missing acknowledgement alone does not say who
///    failed. The sender proves delivery by publishing the items and the plaintext leaves on
///    chain (`publishItems`, `publishPlaintextLeaves`, checked against both roots, emitted in
///    events the receiver reads); a complete publication gives the receiver a fresh ack window.
///    At the ack deadline, a complete publication makes it ReceiverNoAck, otherwise
///    SenderUndelivered: an MC that commits data it never sends cannot collect MP's penalty.
///  * `contest` decrypts and hashes the whole item in one transaction: Poseidon is ~23.1k gas
///    per 62 bytes, so ~110k in all for 64 bytes and ~10.9M for 96x96x3 (27,648 bytes), but
///    ~56M for 224x224x3 (150,528 bytes), over a block. Such an item is contested across
///    transactions: `beginContest` checks both Merkle proofs and stores the Poseidon sponge
///    state [2^64, 0, 0]; each `contestChunk` opens the next CONTEST_CHUNK_BYTES of ciphertext
///    against the ciphertext digest's hash chain, decrypts it at its keystream offset and
///    absorbs it (~12.5M gas); the last chunk pads, compares and decides (5 chunks for 224x224x3).
///  * The keystream of item i is keyed by (key, i), so a sender must use a fresh key per
///    transfer (the salted key commitment hides it until the reveal).
/// The inheriting contract must call the EIP712 constructor (its own domain: name, version,
/// chain id and address) and the DataTransfer constructor (windows).
abstract contract DataTransfer is IDataTransfer, EIP712, ReentrancyGuard {
    /// @notice Upper bound of each window, so deadlines never overflow.
    uint256 public constant MAX_TRANSFER_WINDOW = 3650 days;

    /// @notice Bytes of ciphertext per chunk of a chunked contest (and of the ciphertext digest's
    /// hash chain): 32 * 992, a multiple of lcm(62, 32) so chunks end on a Poseidon pair (two
    /// 31-byte elements) and on a keystream block. One chunk costs ~12.5M gas to absorb
    /// (512 permutations), under EIP-7825's 2^24 per-transaction cap.
    uint256 public constant CONTEST_CHUNK_BYTES = 31_744;

    /// @notice EIP-712 type of the receiver's acknowledgement of receipt.
    bytes32 public constant ACKNOWLEDGEMENT_TYPEHASH =
        keccak256("Acknowledgement(uint256 transferId,bytes32 ciphertextRoot)");

    /// @notice Seconds the receiver has, from the commitment, to acknowledge (stage 3).
    uint64 public immutable ackWindow;
    /// @notice Seconds the sender has, from the acknowledgement, to reveal the key (stage 4).
    uint64 public immutable revealWindow;
    /// @notice Seconds the receiver has, from the reveal, to accept or contest (stage 5).
    uint64 public immutable contestWindow;

    /// @inheritdoc IDataTransfer
    uint256 public transferCount;

    mapping(uint256 transferId => Transfer) private _transfers;
    mapping(uint256 transferId => ContestProgress) private _progress;
    mapping(uint256 transferId => mapping(uint32 index => bool)) private _published;

    constructor(uint64 ackWindow_, uint64 revealWindow_, uint64 contestWindow_) {
        _requireWindow(ackWindow_);
        _requireWindow(revealWindow_);
        _requireWindow(contestWindow_);
        ackWindow = ackWindow_;
        revealWindow = revealWindow_;
        contestWindow = contestWindow_;
    }

    // ---------------------------------------------------------------- actions

    /// @inheritdoc IDataTransfer
    function acknowledge(uint256 transferId) external {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.AwaitingAck);
        if (msg.sender != t.receiver) revert NotTransferReceiver(transferId, msg.sender, t.receiver);
        _acknowledge(transferId, t);
    }

    /// @inheritdoc IDataTransfer
    function acknowledgeWithSignature(uint256 transferId, bytes calldata signature) external {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.AwaitingAck);
        if (!SignatureChecker.isValidSignatureNowCalldata(t.receiver, _ackDigest(transferId, t), signature)) {
            revert InvalidAcknowledgement(transferId, t.receiver);
        }
        _acknowledge(transferId, t);
    }

    /// @inheritdoc IDataTransfer
    /// @dev Anyone holding (key, salt) may reveal: the preimage is the authorization.
    function revealKey(uint256 transferId, bytes32 key, bytes32 salt) external {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.AwaitingKey);
        bytes32 commitment = keyCommitmentOf(key, salt);
        if (commitment != t.keyCommitment) revert KeyCommitmentMismatch(transferId, t.keyCommitment, commitment);
        uint64 contestDeadline = uint64(block.timestamp) + contestWindow;
        t.key = key;
        t.status = TransferStatus.KeyRevealed;
        t.deadline = contestDeadline;
        emit TransferKeyRevealed(transferId, key, contestDeadline);
    }

    /// @inheritdoc IDataTransfer
    function accept(uint256 transferId) external nonReentrant {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.Contestable);
        if (msg.sender != t.receiver) revert NotTransferReceiver(transferId, msg.sender, t.receiver);
        _resolve(t, TransferOutcome.Completed);
        emit TransferAccepted(transferId);
        _onTransferResolved(transferId, TransferOutcome.Completed);
    }

    /// @inheritdoc IDataTransfer
    /// @dev Cost: two Merkle proofs, the ciphertext digest, the decryption (~155 gas per 32
    /// bytes) and PoseidonT3.hashBytes of the plaintext (~23.1k gas per 62 bytes): ~110k for a
    /// 64-byte item, ~10.9M for 96x96x3 (27,648 bytes), but ~56M for 224x224x3 (150,528 bytes),
    /// over a block: such items are contested with `beginContest` + `contestChunk`.
    function contest(uint256 transferId, ItemOpening calldata item)
        external
        nonReentrant
        returns (TransferOutcome outcome)
    {
        Transfer storage t = _transfers[transferId];
        _requireContestable(transferId, t, item.index);
        // INVARIANT: the ciphertext is the one the receiver acknowledged (the committed root).
        bytes32 leaf = ciphertextLeaf(item.index, item.ciphertext);
        if (!MerkleProof.verifyCalldata(item.ciphertextProof, t.ciphertextRoot, leaf)) {
            revert InvalidCiphertextProof(transferId, item.index);
        }
        _requirePlaintextLeaf(transferId, t, item.index, item.inputCommitment, item.label, item.plaintextProof);
        bytes memory plaintext = KeccakStreamCipher.decrypt(t.key, item.index, item.ciphertext);
        return _decide(transferId, t, item.index, item.inputCommitment, bytes32(PoseidonT3.hashBytes(plaintext)));
    }

    /// @inheritdoc IDataTransfer
    /// @dev A fresh contest window lets a receiver that begins late still send every chunk;
    /// it can extend stage 5 by at most one window.
    function beginContest(uint256 transferId, ContestOpening calldata opening) external {
        Transfer storage t = _transfers[transferId];
        uint32 index = opening.index;
        _requireContestable(transferId, t, index);
        bytes32 leaf = ciphertextLeafOfDigest(index, opening.ciphertextDigest);
        if (!MerkleProof.verifyCalldata(opening.ciphertextProof, t.ciphertextRoot, leaf)) {
            revert InvalidCiphertextProof(transferId, index);
        }
        _requirePlaintextLeaf(transferId, t, index, opening.inputCommitment, opening.label, opening.plaintextProof);
        uint64 contestDeadline = uint64(block.timestamp) + contestWindow;
        _progress[transferId] = ContestProgress({
            index: index,
            chunksDone: 0,
            nextDigest: opening.ciphertextDigest,
            inputCommitment: opening.inputCommitment,
            s0: PoseidonT3.INITIAL_S0, // PoseidonT3's initial sponge state [2^64, 0, 0]
            s1: 0,
            s2: 0
        });
        t.status = TransferStatus.Contesting;
        t.deadline = contestDeadline;
        emit ContestBegun(transferId, index, contestDeadline);
    }

    /// @inheritdoc IDataTransfer
    /// @dev Permissionless: the hash chain admits exactly one chunk per step.
    function contestChunk(uint256 transferId, bytes calldata chunk, bytes32 nextDigest)
        external
        nonReentrant
        returns (TransferOutcome outcome)
    {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.Contesting);
        ContestProgress storage p = _progress[transferId];
        bool last = nextDigest == bytes32(0);
        _openChunk(transferId, p, chunk, nextDigest, last);
        _absorbChunk(t.key, p, chunk, last);
        if (!last) {
            uint32 chunkIndex = p.chunksDone;
            p.nextDigest = nextDigest;
            p.chunksDone = chunkIndex + 1;
            emit ContestChunkAbsorbed(transferId, chunkIndex);
            return TransferOutcome.None;
        }
        (uint32 index, bytes32 committed, uint256 s1) = (p.index, p.inputCommitment, p.s1);
        delete _progress[transferId];
        return _decide(transferId, t, index, committed, bytes32(s1));
    }

    /// @inheritdoc IDataTransfer
    function expireTransfer(uint256 transferId) external nonReentrant returns (TransferOutcome outcome) {
        Transfer storage t = _transfers[transferId];
        TransferState current = transferState(transferId);
        if (current == TransferState.AckExpired) {
            outcome = _isPublished(t) ? TransferOutcome.ReceiverNoAck : TransferOutcome.SenderUndelivered;
        } else if (current == TransferState.KeyExpired) {
            outcome = TransferOutcome.SenderNoReveal;
        } else if (current == TransferState.ContestExpired) {
            outcome = TransferOutcome.ReceiverNoContinue;
            delete _progress[transferId];
        } else {
            revert UnexpectedTransferState(transferId, current);
        }
        _resolve(t, outcome);
        emit TransferExpired(transferId, outcome, msg.sender);
        _onTransferResolved(transferId, outcome);
    }

    /// @inheritdoc IDataTransfer
    function publishItems(uint256 transferId, PublishedItem[] calldata items) external {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.AwaitingAck);
        // Nothing to publish changes nothing: an empty call must not re-run `_onPublished`, which
        // would let anyone (the receiver) push a complete publication's ack deadline on forever.
        if (items.length == 0) return;
        uint32 published = t.published;
        for (uint256 i = 0; i < items.length; ++i) {
            PublishedItem calldata item = items[i];
            uint32 index = item.index;
            if (!_isTransferItem(transferId, index)) revert ItemNotInTransfer(transferId, index);
            if (_published[transferId][index]) revert AlreadyPublished(transferId, index);
            if (!MerkleProof.verifyCalldata(item.proof, t.ciphertextRoot, ciphertextLeaf(index, item.ciphertext))) {
                revert InvalidCiphertextProof(transferId, index);
            }
            _published[transferId][index] = true;
            ++published;
            emit ItemPublished(transferId, index, item.ciphertext);
        }
        t.published = published;
        _onPublished(transferId, t);
    }

    /// @inheritdoc IDataTransfer
    function publishPlaintextLeaves(uint256 transferId, bytes32[] calldata inputCommitments, uint256[] calldata labels)
        external
    {
        Transfer storage t = _transfers[transferId];
        _requireState(transferId, TransferState.AwaitingAck);
        uint256 n = inputCommitments.length;
        if (n == 0 || n != labels.length) revert PlaintextLeavesLength(transferId, n, labels.length);
        bytes32[] memory level = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            // n is a calldata length, far below 2^32 items.
            // forge-lint: disable-next-line(unsafe-typecast)
            level[i] = plaintextLeaf(uint32(i), inputCommitments[i], labels[i]);
        }
        bytes32 root = _rootOf(level);
        if (root != t.plaintextRoot) revert PlaintextLeavesMismatch(transferId, t.plaintextRoot, root);
        if (t.leavesPublished) return;
        t.leavesPublished = true;
        emit PlaintextLeavesPublished(transferId, inputCommitments, labels);
        _onPublished(transferId, t);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IDataTransfer
    function getTransfer(uint256 transferId) external view returns (Transfer memory) {
        return _transfers[transferId];
    }

    /// @inheritdoc IDataTransfer
    function transferState(uint256 transferId) public view returns (TransferState) {
        Transfer storage t = _transfers[transferId];
        TransferStatus status = t.status;
        if (status == TransferStatus.None) return TransferState.None;
        if (status == TransferStatus.Resolved) return TransferState.Resolved;
        // Deadlines are hours apart; a validator's few seconds of timestamp leeway do not matter.
        bool open = block.timestamp < t.deadline;
        if (status == TransferStatus.Committed) return open ? TransferState.AwaitingAck : TransferState.AckExpired;
        if (status == TransferStatus.Acknowledged) return open ? TransferState.AwaitingKey : TransferState.KeyExpired;
        if (status == TransferStatus.Contesting) return open ? TransferState.Contesting : TransferState.ContestExpired;
        return open ? TransferState.Contestable : TransferState.ContestExpired;
    }

    /// @inheritdoc IDataTransfer
    function acknowledgementDigest(uint256 transferId) external view returns (bytes32) {
        return _ackDigest(transferId, _transfers[transferId]);
    }

    /// @inheritdoc IDataTransfer
    function contestProgress(uint256 transferId) external view returns (ContestProgress memory) {
        return _progress[transferId];
    }

    /// @inheritdoc IDataTransfer
    function ciphertextDigest(bytes calldata ciphertext) public pure returns (bytes32 digest) {
        uint256 len = ciphertext.length;
        // Rounding down to a whole number of chunks is the point: start of the last chunk.
        // slither-disable-next-line divide-before-multiply
        uint256 start = len > CONTEST_CHUNK_BYTES ? ((len - 1) / CONTEST_CHUNK_BYTES) * CONTEST_CHUNK_BYTES : 0;
        digest = keccak256(ciphertext[start:]);
        while (start > 0) {
            start -= CONTEST_CHUNK_BYTES;
            digest = keccak256(bytes.concat(ciphertext[start:start + CONTEST_CHUNK_BYTES], digest));
        }
    }

    /// @inheritdoc IDataTransfer
    function ciphertextLeaf(uint32 index, bytes calldata ciphertext) public pure returns (bytes32) {
        return ciphertextLeafOfDigest(index, ciphertextDigest(ciphertext));
    }

    /// @inheritdoc IDataTransfer
    function ciphertextLeafOfDigest(uint32 index, bytes32 digest) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), digest))));
    }

    /// @inheritdoc IDataTransfer
    function plaintextLeaf(uint32 index, bytes32 inputCommitment, uint256 label) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, label))));
    }

    /// @inheritdoc IDataTransfer
    function keyCommitmentOf(bytes32 key, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(key, salt));
    }

    // ---------------------------------------------------------------- for the inheriting protocol

    /// @dev Opens a transfer from `sender` to `receiver` (stage 1) and returns its id; the
    /// receiver must acknowledge before now + ackWindow. `plaintextRoot` is the protocol's
    /// commitment to what the items decrypt to (e.g. the audit's test-set root).
    function _openTransfer(
        address sender,
        address receiver,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        bytes32 plaintextRoot,
        uint32 itemCount
    ) internal returns (uint256 transferId) {
        if (sender == address(0) || receiver == address(0) || sender == receiver) {
            revert InvalidTransferParties(sender, receiver);
        }
        if (itemCount == 0) revert EmptyTransfer();
        if (ciphertextRoot == bytes32(0) || keyCommitment == bytes32(0) || plaintextRoot == bytes32(0)) {
            revert ZeroTransferCommitment();
        }
        transferId = ++transferCount;
        uint64 ackDeadline = uint64(block.timestamp) + ackWindow;
        _transfers[transferId] = Transfer({
            sender: sender,
            deadline: ackDeadline,
            status: TransferStatus.Committed,
            outcome: TransferOutcome.None,
            receiver: receiver,
            itemCount: itemCount,
            ciphertextRoot: ciphertextRoot,
            keyCommitment: keyCommitment,
            plaintextRoot: plaintextRoot,
            key: bytes32(0),
            published: 0,
            leavesPublished: false
        });
        emit TransferCommitted(
            transferId, sender, receiver, ciphertextRoot, keyCommitment, plaintextRoot, itemCount, ackDeadline
        );
    }

    /// @dev Called exactly once per transfer, after its outcome is stored and its event
    /// emitted: the inheriting protocol applies the penalty (or moves to its next stage).
    /// Runs inside the `nonReentrant` entry point that resolved the transfer.
    function _onTransferResolved(uint256 transferId, TransferOutcome outcome) internal virtual;

    /// @dev Whether `index` is an item of the transfer; by default 0 <= index < itemCount.
    /// A protocol sending a subset of a larger committed set (e.g. the audit's random N1
    /// subset of the test set) overrides this to accept exactly the subset's indices.
    function _isTransferItem(uint256 transferId, uint32 index) internal view virtual returns (bool) {
        return index < _transfers[transferId].itemCount;
    }

    // ---------------------------------------------------------------- internals

    function _isPublished(Transfer storage t) private view returns (bool) {
        return t.leavesPublished && t.published == t.itemCount;
    }

    /// @dev Once delivery is proven, the receiver gets at least one full ack window from now.
    function _onPublished(uint256 transferId, Transfer storage t) private {
        if (!_isPublished(t)) return;
        uint64 ackDeadline = uint64(block.timestamp) + ackWindow;
        if (ackDeadline > t.deadline) t.deadline = ackDeadline;
        emit TransferPublished(transferId, t.deadline);
    }

    /// @dev The Merkle root zkmarket builds off chain: leaves in index order, adjacent pairs
    /// hashed sorted (OpenZeppelin's commutative hash), a lone last node moves up unchanged.
    function _rootOf(bytes32[] memory level) private pure returns (bytes32) {
        uint256 len = level.length;
        while (len > 1) {
            uint256 next = 0;
            for (uint256 j = 0; j < len; j += 2) {
                level[next++] = j + 1 < len ? Hashes.commutativeKeccak256(level[j], level[j + 1]) : level[j];
            }
            len = next;
        }
        return level[0];
    }

    function _acknowledge(uint256 transferId, Transfer storage t) private {
        uint64 revealDeadline = uint64(block.timestamp) + revealWindow;
        t.status = TransferStatus.Acknowledged;
        t.deadline = revealDeadline;
        emit TransferAcknowledged(transferId, msg.sender, revealDeadline);
    }

    /// @dev Checks shared by `contest` and `beginContest`: the phase, the caller, the index.
    function _requireContestable(uint256 transferId, Transfer storage t, uint32 index) private view {
        _requireState(transferId, TransferState.Contestable);
        if (msg.sender != t.receiver) revert NotTransferReceiver(transferId, msg.sender, t.receiver);
        // INVARIANT: only an item of this transfer can be contested (by default index < itemCount).
        if (!_isTransferItem(transferId, index)) revert ItemNotInTransfer(transferId, index);
    }

    /// @dev INVARIANT: the input commitment is the one the protocol committed for this index.
    function _requirePlaintextLeaf(
        uint256 transferId,
        Transfer storage t,
        uint32 index,
        bytes32 inputCommitment,
        uint256 label,
        bytes32[] calldata proof
    ) private view {
        if (!MerkleProof.verifyCalldata(proof, t.plaintextRoot, plaintextLeaf(index, inputCommitment, label))) {
            revert InvalidPlaintextProof(transferId, index);
        }
    }

    /// @dev Ends a contest: the recomputed commitment differs -> the sender cheated.
    function _decide(uint256 transferId, Transfer storage t, uint32 index, bytes32 committed, bytes32 computed)
        private
        returns (TransferOutcome outcome)
    {
        outcome = computed == committed ? TransferOutcome.ContestRejected : TransferOutcome.SenderCheated;
        _resolve(t, outcome);
        emit TransferContested(transferId, index, committed, computed, outcome);
        _onTransferResolved(transferId, outcome);
    }

    /// @dev INVARIANT: chunk k is the k-th piece of the committed ciphertext (hash chain); a
    /// non-final chunk is exactly CONTEST_CHUNK_BYTES long, a final one at most that.
    function _openChunk(
        uint256 transferId,
        ContestProgress storage p,
        bytes calldata chunk,
        bytes32 nextDigest,
        bool last
    ) private view {
        uint256 len = chunk.length;
        if (last ? len > CONTEST_CHUNK_BYTES : len != CONTEST_CHUNK_BYTES) {
            revert InvalidChunkLength(transferId, p.chunksDone, len);
        }
        bytes32 digest = last ? keccak256(chunk) : keccak256(bytes.concat(chunk, nextDigest));
        if (digest != p.nextDigest) revert InvalidChunk(transferId, p.chunksDone);
    }

    /// @dev Decrypts chunk `p.chunksDone` at its keystream offset and absorbs it into the
    /// stored sponge state. A non-final chunk is CONTEST_CHUNK_BYTES = 512 * 62 bytes (whole
    /// Poseidon element pairs), as PoseidonT3.absorbBytes requires.
    function _absorbChunk(bytes32 key, ContestProgress storage p, bytes calldata chunk, bool last) private {
        // CONTEST_CHUNK_BYTES is a multiple of 32: the division is exact (keystream blocks per chunk).
        // slither-disable-next-line divide-before-multiply
        uint256 firstBlock = uint256(p.chunksDone) * (CONTEST_CHUNK_BYTES / KeccakStreamCipher.BLOCK_BYTES);
        bytes memory plaintext = KeccakStreamCipher.decryptAt(key, p.index, firstBlock, chunk);
        (p.s0, p.s1, p.s2) = PoseidonT3.absorbBytes(p.s0, p.s1, p.s2, plaintext, last);
    }

    function _resolve(Transfer storage t, TransferOutcome outcome) private {
        t.status = TransferStatus.Resolved;
        t.outcome = outcome;
    }

    function _ackDigest(uint256 transferId, Transfer storage t) private view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(ACKNOWLEDGEMENT_TYPEHASH, transferId, t.ciphertextRoot)));
    }

    function _requireState(uint256 transferId, TransferState expected) private view {
        TransferState current = transferState(transferId);
        if (current != expected) revert UnexpectedTransferState(transferId, current);
    }

    function _requireWindow(uint256 window) private pure {
        if (window == 0) revert ZeroTransferWindow();
        if (window > MAX_TRANSFER_WINDOW) revert TransferWindowTooLong(window, MAX_TRANSFER_WINDOW);
    }
}
