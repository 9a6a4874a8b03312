// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Stored life cycle of a data transfer; the phase is derived by IDataTransfer.transferState.
enum TransferStatus {
    None,
    Committed,
    Acknowledged,
    KeyRevealed,
    Contesting,
    Resolved
}

/// @notice Phase of a data transfer, derived from its stored status and its current deadline.
/// AwaitingAck: committed; the receiver may acknowledge until the ack deadline.
/// AckExpired: not acknowledged in time; anyone may `expireTransfer` (ReceiverNoAck if the
/// sender published the items on chain, else SenderUndelivered).
/// AwaitingKey: acknowledged; the sender may reveal the key until the reveal deadline.
/// KeyExpired: key not revealed in time; anyone may `expireTransfer` (SenderNoReveal).
/// Contestable: key revealed; the receiver may accept or contest until the contest deadline.
/// Contesting: a contest over several transactions (`beginContest`) is absorbing its chunks.
/// ContestExpired: the receiver did neither (or did not finish its chunked contest) in time;
/// anyone may `expireTransfer` (ReceiverNoContinue).
/// Resolved: final; the outcome is stored.
enum TransferState {
    None,
    AwaitingAck,
    AckExpired,
    AwaitingKey,
    KeyExpired,
    Contestable,
    Contesting,
    ContestExpired,
    Resolved
}

/// @notice How a data transfer ended; reported once to the inheriting protocol through
/// `DataTransfer._onTransferResolved`, which decides the payouts (paper appendix B: "If MC does
/// not respond or aborts in Stages 1, 2, or 4, it is slashed. If MP does not respond in Stages 3
/// or 5, it is slashed.").
enum TransferOutcome {
    None,
    /// @dev The receiver accepted the data (stage 5 "continues"): no one is at fault.
    Completed,
    /// @dev The receiver did not acknowledge receipt by the ack deadline although the sender
    /// proved delivery by publishing every item and leaf on chain (stage 3): receiver at fault.
    ReceiverNoAck,
    /// @dev The sender did not reveal the key by the reveal deadline (stage 4): sender at fault.
    SenderNoReveal,
    /// @dev An upheld contest: a committed ciphertext decrypts under the revealed key to bytes
    /// whose Poseidon commitment differs from the committed input commitment: sender at fault.
    SenderCheated,
    /// @dev A rejected contest: the contested item decrypts to exactly the committed input:
    /// receiver at fault (it griefed the sender).
    ContestRejected,
    /// @dev The receiver neither accepted nor contested by the contest deadline, or did not
    /// finish a chunked contest by its deadline (stage 5 "does not respond"): receiver at fault.
    ReceiverNoContinue,
    /// @dev Not acknowledged by the ack deadline, and the sender did not prove delivery by
    /// publishing the items on chain (`publishItems` + `publishPlaintextLeaves`): sender at fault
    /// (stage 2, "MC does not respond"). With a complete publication it is ReceiverNoAck instead.
    SenderUndelivered
}

/// @notice Whether a transfer that ended with `outcome` (other than Completed) is the sender's
/// fault; every other fault is the receiver's. Protocols penalise from this, so a new outcome
/// is classified here once.
function isSenderFault(TransferOutcome outcome) pure returns (bool) {
    return outcome == TransferOutcome.SenderUndelivered || outcome == TransferOutcome.SenderNoReveal
        || outcome == TransferOutcome.SenderCheated;
}

/// @notice One data transfer (paper appendix B). Deadline = the deadline of the current stored
/// status (ack, reveal or contest deadline).
/// @param ciphertextRoot Merkle root of `ciphertextLeaf(index, ciphertext)` over the items sent.
/// @param keyCommitment keccak256(abi.encode(key, salt)) (`keyCommitmentOf`).
/// @param plaintextRoot Merkle root of `plaintextLeaf(index, inputCommitment, label)`, committed
/// by the inheriting protocol (e.g. the audit's test-set root).
/// @param key The revealed key (zero until revealed).
/// @param published Items published on chain so far (proof of delivery, see `publishItems`).
/// @param leavesPublished Whether the plaintext leaves were published (`publishPlaintextLeaves`).
struct Transfer {
    address sender;
    uint64 deadline;
    TransferStatus status;
    TransferOutcome outcome;
    address receiver;
    uint32 itemCount;
    bytes32 ciphertextRoot;
    bytes32 keyCommitment;
    bytes32 plaintextRoot;
    bytes32 key;
    uint32 published;
    bool leavesPublished;
}

/// @notice One item the sender publishes on chain to prove delivery (see `publishItems`).
/// @param proof Merkle proof of `ciphertextLeaf(index, ciphertext)` in the ciphertext root.
struct PublishedItem {
    uint32 index;
    bytes ciphertext;
    bytes32[] proof;
}

/// @notice One contested item: its ciphertext with its proof in the ciphertext tree, and the
/// plaintext leaf it should decrypt to with its proof in the plaintext tree.
/// @param index The item's index (the same in both trees and in the keystream).
/// @param ciphertext The item's ciphertext as the sender sent it.
/// @param ciphertextProof Merkle proof of `ciphertextLeaf(index, ciphertext)` in `ciphertextRoot`.
/// @param inputCommitment The committed Poseidon commitment of the item's plaintext.
/// @param label The committed label (only bound through the plaintext leaf).
/// @param plaintextProof Merkle proof of `plaintextLeaf(index, inputCommitment, label)` in `plaintextRoot`.
struct ItemOpening {
    uint32 index;
    bytes ciphertext;
    bytes32[] ciphertextProof;
    bytes32 inputCommitment;
    uint256 label;
    bytes32[] plaintextProof;
}

/// @notice Start of a contest over several transactions: the item's ciphertext digest (instead
/// of its bytes) with its proof, and the plaintext leaf with its proof.
/// @param ciphertextDigest `ciphertextDigest(ciphertext)` of the contested item.
/// @param ciphertextProof Merkle proof of `ciphertextLeafOfDigest(index, ciphertextDigest)`.
struct ContestOpening {
    uint32 index;
    bytes32 ciphertextDigest;
    bytes32[] ciphertextProof;
    bytes32 inputCommitment;
    uint256 label;
    bytes32[] plaintextProof;
}

/// @notice A chunked contest in progress: the Poseidon sponge state after `chunksDone` chunks,
/// and the digest the next chunk must open.
struct ContestProgress {
    uint32 index;
    uint32 chunksDone;
    bytes32 nextDigest;
    bytes32 inputCommitment;
    uint256 s0;
    uint256 s1;
    uint256 s2;
}

/// @title IDataTransfer
/// @notice The data-transfer sub-protocol of paper appendix B, which protocols that move test
/// data (the accuracy audit's stages 3 and 5) inherit from `DataTransfer`:
///  1. The sender (MC) commits, through the inheriting protocol, to the Merkle root of its
///     encrypted items (leaves `ciphertextLeaf(i, ciphertext_i)`), to its key
///     (`keyCommitmentOf(key, salt)`), and the protocol names the plaintext root the items must
///     decrypt to (leaves `plaintextLeaf(i, inputCommitment_i, label_i)`) and the item count.
///  2. The sender sends the ciphertexts to the receiver (MP) off chain.
///  3. The receiver acknowledges receipt before the ack deadline: `acknowledge` (by
///     transaction) or anyone posts its EIP-712 signature (`acknowledgementDigest`) with
///     `acknowledgeWithSignature`.
///  4. The sender (or anyone holding the preimage) reveals key and salt before the reveal deadline.
///  5. The receiver `accept`s or `contest`s one item before the contest deadline. The contract
///     decrypts the item (KeccakStreamCipher, keystream index = item index) and recomputes its
///     Poseidon commitment (PoseidonT3.hashBytes, = the circuit's input commitment): different
///     from the committed one -> SenderCheated; equal -> ContestRejected. An item too large for
///     one transaction (224x224x3) is contested with `beginContest` and one `contestChunk` per
///     CONTEST_CHUNK_BYTES of ciphertext, which carry the sponge state across transactions.
/// Ciphertext digest: items are cut into chunks of CONTEST_CHUNK_BYTES (the last one shorter);
/// h_last = keccak256(chunk_last), h_k = keccak256(chunk_k ++ h_{k+1}), digest = h_0; so an item
/// of at most one chunk (e.g. 96x96x3) has digest keccak256(ciphertext).
/// Each missed deadline is a fault of the party that had to act (`expireTransfer`, callable by
/// anyone): SenderUndelivered or ReceiverNoAck, SenderNoReveal, ReceiverNoContinue. Delivery
/// happens off chain, so whether a missing acknowledgement is the receiver's fault depends on
/// proof of delivery: a sender whose data was not acknowledged publishes it on chain
/// (`publishItems`, `publishPlaintextLeaves`; each item checked against the ciphertext root, the
/// leaves against the plaintext root) before the ack deadline, which then moves to at least one
/// ack window after the publication is complete. Merkle trees hash internal
/// nodes as the sorted pair (OpenZeppelin MerkleProof); leaves are double-hashed.
interface IDataTransfer {
    // ---------------------------------------------------------------- events

    /// @notice `sender` committed transfer `transferId` to `receiver`; it must be acknowledged
    /// before `ackDeadline`.
    event TransferCommitted(
        uint256 indexed transferId,
        address indexed sender,
        address indexed receiver,
        bytes32 ciphertextRoot,
        bytes32 keyCommitment,
        bytes32 plaintextRoot,
        uint32 itemCount,
        uint64 ackDeadline
    );

    /// @notice The receiver's acknowledgement was recorded (posted by `submitter`); the key must
    /// be revealed before `revealDeadline`.
    event TransferAcknowledged(uint256 indexed transferId, address indexed submitter, uint64 revealDeadline);

    /// @notice The key was revealed; the receiver may accept or contest before `contestDeadline`.
    event TransferKeyRevealed(uint256 indexed transferId, bytes32 key, uint64 contestDeadline);

    /// @notice The receiver accepted the data (outcome Completed).
    event TransferAccepted(uint256 indexed transferId);

    /// @notice The receiver contested item `index`: it decrypts to bytes with Poseidon commitment
    /// `computedCommitment`, against `committedCommitment`; outcome SenderCheated when they
    /// differ, ContestRejected when equal.
    event TransferContested(
        uint256 indexed transferId,
        uint32 indexed index,
        bytes32 committedCommitment,
        bytes32 computedCommitment,
        TransferOutcome outcome
    );

    /// @notice The receiver started a chunked contest of item `index`; all chunks must be
    /// absorbed before `contestDeadline`.
    event ContestBegun(uint256 indexed transferId, uint32 indexed index, uint64 contestDeadline);

    /// @notice Chunk `chunkIndex` (not the last) of the contested item was absorbed.
    event ContestChunkAbsorbed(uint256 indexed transferId, uint32 chunkIndex);

    /// @notice A deadline passed without the expected action (outcome SenderUndelivered,
    /// ReceiverNoAck, SenderNoReveal or ReceiverNoContinue); `caller` triggered the timeout.
    event TransferExpired(uint256 indexed transferId, TransferOutcome outcome, address indexed caller);

    /// @notice The sender published item `index` on chain (its ciphertext is in the event).
    event ItemPublished(uint256 indexed transferId, uint32 indexed index, bytes ciphertext);

    /// @notice The sender published every plaintext leaf (input commitments and labels).
    event PlaintextLeavesPublished(uint256 indexed transferId, bytes32[] inputCommitments, uint256[] labels);

    /// @notice Delivery is proven on chain (all items and the leaves); the receiver must
    /// acknowledge by `ackDeadline` (at least one ack window from now).
    event TransferPublished(uint256 indexed transferId, uint64 ackDeadline);

    // ---------------------------------------------------------------- errors

    /// @notice This item was already published.
    error AlreadyPublished(uint256 transferId, uint32 index);

    /// @notice The published leaves do not rebuild the plaintext root.
    error PlaintextLeavesMismatch(uint256 transferId, bytes32 expected, bytes32 actual);

    /// @notice Commitments and labels must have the same, non-zero length.
    error PlaintextLeavesLength(uint256 transferId, uint256 commitments, uint256 labels);

    /// @notice A window given at deployment is zero.
    error ZeroTransferWindow();

    /// @notice A window given at deployment is longer than MAX_TRANSFER_WINDOW.
    error TransferWindowTooLong(uint256 window, uint256 max);

    /// @notice A transfer needs two distinct nonzero parties.
    error InvalidTransferParties(address sender, address receiver);

    /// @notice A transfer needs at least one item.
    error EmptyTransfer();

    /// @notice A transfer's ciphertext root, key commitment and plaintext root must be nonzero.
    error ZeroTransferCommitment();

    /// @notice The call is not allowed in the transfer's current phase.
    error UnexpectedTransferState(uint256 transferId, TransferState current);

    /// @notice Only the transfer's receiver may make this call.
    error NotTransferReceiver(uint256 transferId, address caller, address receiver);

    /// @notice The signature is not the receiver's acknowledgement of this transfer.
    error InvalidAcknowledgement(uint256 transferId, address receiver);

    /// @notice keccak256(abi.encode(key, salt)) is not the committed key commitment.
    error KeyCommitmentMismatch(uint256 transferId, bytes32 expected, bytes32 actual);

    /// @notice The contested index is not one of the transfer's items.
    error ItemNotInTransfer(uint256 transferId, uint32 index);

    /// @notice The ciphertext is not the committed item `index` (bad ciphertext Merkle proof).
    error InvalidCiphertextProof(uint256 transferId, uint32 index);

    /// @notice The plaintext leaf is not committed for item `index` (bad plaintext Merkle proof).
    error InvalidPlaintextProof(uint256 transferId, uint32 index);

    /// @notice A non-final chunk must be exactly CONTEST_CHUNK_BYTES long, a final one at most that.
    error InvalidChunkLength(uint256 transferId, uint32 chunkIndex, uint256 length);

    /// @notice The chunk (with the next digest) does not hash to the digest expected next.
    error InvalidChunk(uint256 transferId, uint32 chunkIndex);

    // ---------------------------------------------------------------- actions

    /// @notice The receiver acknowledges receipt of the ciphertexts (stage 3).
    function acknowledge(uint256 transferId) external;

    /// @notice Anyone posts the receiver's EIP-712 acknowledgement (`acknowledgementDigest`);
    /// ECDSA or ERC-1271 (SignatureChecker).
    function acknowledgeWithSignature(uint256 transferId, bytes calldata signature) external;

    /// @notice Reveals the key committed as keccak256(abi.encode(key, salt)) (stage 4).
    function revealKey(uint256 transferId, bytes32 key, bytes32 salt) external;

    /// @notice The receiver accepts the data (stage 5, continue): outcome Completed.
    function accept(uint256 transferId) external;

    /// @notice The receiver contests one item (stage 5); decided on the spot.
    /// @return outcome SenderCheated (upheld) or ContestRejected.
    function contest(uint256 transferId, ItemOpening calldata item) external returns (TransferOutcome outcome);

    /// @notice The receiver starts a contest of one item over several transactions (stage 5);
    /// the contest deadline becomes now + contestWindow.
    function beginContest(uint256 transferId, ContestOpening calldata opening) external;

    /// @notice Anyone absorbs the next chunk of the contested ciphertext; `nextDigest` is the
    /// digest of the rest of the item (h_{k+1}), or zero for the last chunk, which decides the
    /// contest like `contest`.
    /// @return outcome None while chunks remain, else SenderCheated or ContestRejected.
    function contestChunk(uint256 transferId, bytes calldata chunk, bytes32 nextDigest)
        external
        returns (TransferOutcome outcome);

    /// @notice Anyone resolves a transfer whose current deadline passed.
    /// @return outcome SenderUndelivered, ReceiverNoAck, SenderNoReveal or ReceiverNoContinue.
    function expireTransfer(uint256 transferId) external returns (TransferOutcome outcome);

    /// @notice Stage 2 on chain, only needed when the receiver does not acknowledge: anyone
    /// (normally the sender) publishes items with their ciphertext proofs before the ack
    /// deadline; once every item and the plaintext leaves are published, delivery is proven and
    /// a missing acknowledgement is the receiver's fault (otherwise the sender's). Items may come
    /// in several calls (each item once); an empty list changes nothing, so the ack deadline
    /// moves (and TransferPublished is emitted) exactly once, when the publication completes.
    function publishItems(uint256 transferId, PublishedItem[] calldata items) external;

    /// @notice Publishes all plaintext leaves (input commitment and label of every example of
    /// the plaintext root, in index order); they must rebuild the plaintext root. Publishing them
    /// again is checked the same way but changes nothing.
    function publishPlaintextLeaves(uint256 transferId, bytes32[] calldata inputCommitments, uint256[] calldata labels)
        external;

    // ---------------------------------------------------------------- views

    /// @notice Number of transfers ever committed (ids are 1..transferCount).
    function transferCount() external view returns (uint256);

    /// @notice The stored transfer.
    function getTransfer(uint256 transferId) external view returns (Transfer memory);

    /// @notice The transfer's phase now.
    function transferState(uint256 transferId) external view returns (TransferState);

    /// @notice The EIP-712 digest the receiver signs to acknowledge:
    /// Acknowledgement(uint256 transferId,bytes32 ciphertextRoot).
    function acknowledgementDigest(uint256 transferId) external view returns (bytes32);

    /// @notice The chunked contest in progress (zero when none).
    function contestProgress(uint256 transferId) external view returns (ContestProgress memory);

    /// @notice The ciphertext digest (the chunk hash chain; keccak256(ciphertext) for one chunk).
    function ciphertextDigest(bytes calldata ciphertext) external pure returns (bytes32);

    /// @notice Leaf of the ciphertext tree: ciphertextLeafOfDigest(index, ciphertextDigest(ciphertext)).
    function ciphertextLeaf(uint32 index, bytes calldata ciphertext) external pure returns (bytes32);

    /// @notice keccak256(bytes.concat(keccak256(abi.encode(uint256(index), digest)))).
    function ciphertextLeafOfDigest(uint32 index, bytes32 digest) external pure returns (bytes32);

    /// @notice Leaf of the plaintext tree: keccak256(bytes.concat(keccak256(abi.encode(uint256(index), inputCommitment, label)))).
    function plaintextLeaf(uint32 index, bytes32 inputCommitment, uint256 label) external pure returns (bytes32);

    /// @notice The key commitment: keccak256(abi.encode(key, salt)).
    function keyCommitmentOf(bytes32 key, bytes32 salt) external pure returns (bytes32);
}
