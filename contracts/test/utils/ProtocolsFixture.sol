// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./Fixture.sol";

import {AccuracyAudit} from "../../src/AccuracyAudit.sol";
import {DataTransferService} from "../../src/DataTransferService.sol";
import {GriefingResistantAudit} from "../../src/GriefingResistantAudit.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {Retrieval} from "../../src/Retrieval.sol";
import {ServingRound} from "../../src/ServingRound.sol";
import {AuditConfig} from "../../src/interfaces/IAccuracyAudit.sol";
import {GuardedConfig} from "../../src/interfaces/IGriefingResistantAudit.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {RetrievalConfig} from "../../src/interfaces/IRetrieval.sol";
import {TokenPrices} from "../../src/lib/Types.sol";

/// @notice The whole marketplace as deployed: a registry (setProtocols is one-shot) with every
/// protocol contract registered (ServingRound, AccuracyAudit, Retrieval and the
/// griefing-resistant audit), plus the DataTransferService the latter moves its data through.
abstract contract ProtocolsFixture is Fixture {
    // AccuracyAudit (paper 5.2).
    uint32 internal constant AUDIT_MAX_N = 256;
    uint32 internal constant AUDIT_PROOF_TIME = 1 minutes;
    uint64 internal constant AUDIT_DECISION_WINDOW = 1 days;
    uint64 internal constant AUDIT_PROOF_WINDOW = 2 days;

    // Retrieval (paper 5.4).
    uint32 internal constant RETRIEVAL_MAX_DOCUMENTS = 4096;
    uint64 internal constant RETRIEVAL_CHALLENGE_WINDOW = 3 days;

    // DataTransferService (appendix B sub-protocol): distinct windows so that a test using the
    // wrong one fails.
    uint64 internal constant ACK_WINDOW = 1 days;
    uint64 internal constant REVEAL_WINDOW = 2 days;
    uint64 internal constant CONTEST_WINDOW = 3 days;

    // GriefingResistantAudit (appendix B); its join window is the fixture's JOIN_WINDOW.
    uint32 internal constant GUARDED_MAX_N = 64;
    uint32 internal constant GUARDED_PROOF_TIME = 1 minutes;
    uint64 internal constant SEND_WINDOW = 12 hours;
    uint64 internal constant GUARDED_DECISION_WINDOW = 18 hours;
    uint64 internal constant GUARDED_PROOF_WINDOW = 2 days;

    AccuracyAudit internal accuracy;
    Retrieval internal retrieval;
    DataTransferService internal transfers;
    GriefingResistantAudit internal guarded;

    function setUp() public virtual override {
        super.setUp();
        // The base fixture's registry already fixed its protocols: deploy a fresh market.
        _deployProtocols(_prices(address(usd)), N1);
    }

    /// @dev A fresh registry (prices `list`, N1 = `n1`) with every protocol registered.
    function _deployProtocols(TokenPrices[] memory list, uint256 n1) internal {
        registry = new ModelRegistry(list, n1, feeRecipient, UNBONDING_DELAY);
        IModelRegistry reg = IModelRegistry(address(registry));
        rounds = new ServingRound(reg, _config());
        accuracy = new AccuracyAudit(reg, _accuracyConfig());
        retrieval = new Retrieval(reg, _retrievalConfig());
        transfers = new DataTransferService(ACK_WINDOW, REVEAL_WINDOW, CONTEST_WINDOW);
        guarded = new GriefingResistantAudit(reg, transfers, _guardedConfig());
        address[] memory protocols = new address[](4);
        protocols[0] = address(rounds);
        protocols[1] = address(accuracy);
        protocols[2] = address(retrieval);
        protocols[3] = address(guarded);
        registry.setProtocols(protocols);
    }

    function _accuracyConfig() internal pure returns (AuditConfig memory) {
        return AuditConfig({
            maxN: AUDIT_MAX_N,
            proofTimePerExample: AUDIT_PROOF_TIME,
            joinWindow: JOIN_WINDOW,
            decisionWindow: AUDIT_DECISION_WINDOW,
            proofWindow: AUDIT_PROOF_WINDOW
        });
    }

    function _retrievalConfig() internal pure returns (RetrievalConfig memory) {
        return RetrievalConfig({
            minBeta: MIN_BETA,
            maxBeta: MAX_BETA,
            maxDocuments: RETRIEVAL_MAX_DOCUMENTS,
            maxDuration: MAX_DURATION,
            proofWindow: PROOF_WINDOW,
            joinWindow: JOIN_WINDOW,
            challengeWindow: RETRIEVAL_CHALLENGE_WINDOW,
            answerWindow: ANSWER_WINDOW
        });
    }

    function _guardedConfig() internal pure returns (GuardedConfig memory) {
        return GuardedConfig({
            maxN: GUARDED_MAX_N,
            proofTimePerExample: GUARDED_PROOF_TIME,
            joinWindow: JOIN_WINDOW,
            sendWindow: SEND_WINDOW,
            decisionWindow: GUARDED_DECISION_WINDOW,
            proofWindow: GUARDED_PROOF_WINDOW
        });
    }
}
