// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Merkle} from "./Merkle.sol";
import {RoundData} from "./RoundData.sol";

import {ResultProof} from "../../src/interfaces/IRetrieval.sol";

/// @notice Deterministic retrieval data: document i has input commitment RoundData.ic(i) and
/// result RoundData.cls(i) (the dataset and results trees use the serving round's encodings,
/// checked against the contract in Retrieval.t.sol), plus the responder's EIP-712 digest.
library RetrievalData {
    function datasetRoot(uint32 d) internal pure returns (bytes32) {
        return RoundData.inputsRoot(d);
    }

    function resultsRoot(uint32 d) internal pure returns (bytes32) {
        return RoundData.predictionsRoot(d);
    }

    /// @dev A valid answer for document `index` of a dataset of `d` (the mock verifier accepts any proof).
    function proof(uint32 d, uint32 index) internal pure returns (ResultProof memory a) {
        a.index = index;
        a.inputCommitment = RoundData.ic(index);
        a.predictedClass = RoundData.cls(index);
        a.documentProof = Merkle.proof(RoundData.inputLeaves(d), index);
        a.resultProof = Merkle.proof(RoundData.predictionLeaves(d), index);
        a.proof = hex"c0ffee";
    }

    /// @dev The EIP-712 digest of Results(requestId, datasetRoot, resultsRoot) for the Retrieval
    /// at `target` on the current chain.
    function digest(address target, uint256 requestId, bytes32 dataset, bytes32 results)
        internal
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("zkmarket Retrieval"),
                keccak256("1"),
                block.chainid,
                target
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256("Results(uint256 requestId,bytes32 datasetRoot,bytes32 resultsRoot)"),
                requestId,
                dataset,
                results
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
