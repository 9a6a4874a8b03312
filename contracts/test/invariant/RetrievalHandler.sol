// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "../utils/Test.sol";
import {RetrievalData} from "../utils/RetrievalData.sol";
import {MockERC20} from "../mocks/Mocks.sol";

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {Retrieval} from "../../src/Retrieval.sol";
import {RequestState, RequestStatus, ResultProof, RetrievalRequest} from "../../src/interfaces/IRetrieval.sol";

/// @notice Random actors driving retrieval requests for the invariant tests. Every action picks
/// its target from a seed and only does what is currently allowed; ghosts track what the
/// contract should hold.
contract RetrievalHandler {
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
    address internal constant ETH = address(0);
    bytes32 internal constant WEIGHTS = bytes32(uint256(0x0badc0ffee));

    ModelRegistry public immutable registry;
    Retrieval public immutable retrieval;
    MockERC20 public immutable usd;

    address[] internal _requesters;
    address[] internal _responders;
    mapping(address responder => uint256 key) internal _keys;
    uint256[] internal _models;
    uint256[] internal _requests;

    /// @notice Escrows and bonds held by open (not cancelled, not settled) requests, per token.
    mapping(address token => uint256 amount) public ghostEscrow;
    /// @notice Requests joined and not yet settled (each holds one registry lock).
    uint256 public ghostLiveJoined;
    /// @notice How often each action did something (for a coverage check).
    mapping(bytes32 action => uint256 count) public done;

    constructor(ModelRegistry registry_, Retrieval retrieval_, MockERC20 usd_, address verifier) {
        registry = registry_;
        retrieval = retrieval_;
        usd = usd_;
        for (uint256 i = 0; i < 3; ++i) {
            _requesters.push(vm.addr(3000 + i));
        }
        for (uint256 i = 0; i < 2; ++i) {
            uint256 key = 4000 + i;
            address r = vm.addr(key);
            _responders.push(r);
            _keys[r] = key;
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                uint256 value = _fund(r, token, registry.requiredStake(token), address(registry));
                vm.prank(r);
                _models.push(registry.registerModel{value: value}(verifier, WEIGHTS, "ipfs://m", token));
            }
        }
    }

    function actors() external view returns (address[] memory list) {
        list = new address[](_requesters.length + _responders.length);
        for (uint256 i = 0; i < _requesters.length; ++i) {
            list[i] = _requesters[i];
        }
        for (uint256 i = 0; i < _responders.length; ++i) {
            list[_requesters.length + i] = _responders[i];
        }
    }

    function modelIds() external view returns (uint256[] memory) {
        return _models;
    }

    // ---------------------------------------------------------------- actions

    /// @dev Commits a fresh dataset of the model's responder and opens a request on it.
    function openRequest(uint256 requesterSeed, uint256 modelSeed, uint32 d, uint32 c, uint16 beta) external {
        uint256 modelId = _models[modelSeed % _models.length];
        if (!registry.isAvailable(modelId)) return;
        (address responder, address token,,,) = registry.jobTerms(modelId);
        d = uint32(1 + d % 12);
        c = c % (d + 1);
        beta = uint16(retrieval.minBeta() + beta % 4);
        vm.prank(responder);
        uint256 datasetId = retrieval.commitDataset(RetrievalData.datasetRoot(d), d);
        address requester = _requesters[requesterSeed % _requesters.length];
        uint256 escrow =
            retrieval.requesterEscrowFor(d, c, registry.prices(token).inferenceP, registry.prices(token).proofZ);
        uint256 value = _fund(requester, token, escrow, address(retrieval));
        vm.prank(requester);
        _requests.push(retrieval.openRequest{value: value}(datasetId, modelId, c, beta, 1 days));
        ghostEscrow[token] += escrow;
        ++done["openRequest"];
    }

    function cancel(uint256 seed) external {
        (uint256 id, RetrievalRequest memory q, bool ok) = _pick(seed);
        if (!ok || retrieval.state(id) != RequestState.Open) return;
        vm.prank(q.requester);
        retrieval.cancel(id);
        ghostEscrow[q.token] -= _escrow(q);
        ++done["cancel"];
    }

    function join(uint256 seed) external {
        (uint256 id, RetrievalRequest memory q, bool ok) = _pick(seed);
        if (!ok || retrieval.state(id) != RequestState.Open || !registry.isAvailable(q.modelId)) return;
        uint256 bond = retrieval.bondFor(q.documents, q.beta, q.proofZ);
        uint256 value = _fund(q.responder, q.token, bond, address(retrieval));
        vm.prank(q.responder);
        retrieval.join{value: value}(id);
        ghostEscrow[q.token] += bond;
        ++ghostLiveJoined;
        ++done["join"];
    }

    function commitResults(uint256 seed, address submitter) external {
        (uint256 id, RetrievalRequest memory q, bool ok) = _pick(seed);
        if (!ok || retrieval.state(id) != RequestState.Responding) return;
        bytes32 root = RetrievalData.resultsRoot(q.documents);
        bytes32 digest = RetrievalData.digest(address(retrieval), id, q.datasetRoot, root);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(_keys[q.responder], digest);
        vm.prank(submitter);
        retrieval.commitResults(id, root, abi.encodePacked(r, s, v));
        ++done["commitResults"];
    }

    function challenge(uint256 seed, uint256 indexSeed, uint256 count) external {
        (uint256 id, RetrievalRequest memory q, bool ok) = _pick(seed);
        if (!ok || retrieval.state(id) != RequestState.Challenging) return;
        count = 1 + count % 3;
        if (count > q.maxChallenges - q.challenged) count = q.maxChallenges - q.challenged;
        uint32[] memory buffer = new uint32[](count);
        uint256 n = 0;
        for (uint32 j = 0; j < q.documents && n < count; ++j) {
            uint32 index = uint32((indexSeed % q.documents + j) % q.documents);
            if (!retrieval.isChallenged(id, index)) buffer[n++] = index;
        }
        if (n == 0) return;
        uint32[] memory indices = new uint32[](n);
        for (uint256 j = 0; j < n; ++j) {
            indices[j] = buffer[j];
        }
        vm.prank(q.requester);
        retrieval.challenge(id, indices);
        ++done["challenge"];
    }

    /// @dev Proves up to `1 + count % 3` of the request's pending challenges.
    function answer(uint256 seed, uint256 count, address submitter) external {
        (uint256 id, RetrievalRequest memory q, bool ok) = _pick(seed);
        RequestState s = ok ? retrieval.state(id) : RequestState.None;
        if (s != RequestState.Challenging && s != RequestState.AwaitingAnswers) return;
        count = 1 + count % 3;
        ResultProof[] memory buffer = new ResultProof[](count);
        uint256 n = 0;
        for (uint32 index = 0; index < q.documents && n < count; ++index) {
            if (retrieval.isChallenged(id, index) && !retrieval.isAnswered(id, index)) {
                buffer[n++] = RetrievalData.proof(q.documents, index);
            }
        }
        if (n == 0) return;
        ResultProof[] memory list = new ResultProof[](n);
        for (uint256 j = 0; j < n; ++j) {
            list[j] = buffer[j];
        }
        vm.prank(submitter);
        retrieval.answerBatch(id, list);
        ++done["answer"];
    }

    function settle(uint256 seed, address caller) external {
        (uint256 id,, bool ok) = _pick(seed);
        if (!ok) return;
        RequestState s = retrieval.state(id);
        if (s != RequestState.JoinExpired && s != RequestState.Settleable) return;
        _settle(id, caller);
        ++done["settle"];
        RetrievalRequest memory q = retrieval.request(id);
        if (q.status == RequestStatus.Cancelled) ++done["settle:cancelled"];
        else if (q.resultsRoot == bytes32(0)) ++done["settle:noResults"];
        else if (q.answered < q.challenged) ++done["settle:unanswered"];
        else ++done["settle:delivered"];
    }

    function warp(uint256 secondsSeed) external {
        vm.warp(block.timestamp + 1 + secondsSeed % 2 days);
        ++done["warp"];
    }

    function withdraw(uint256 actorSeed, bool useToken) external {
        address[] memory list = this.actors();
        address actor = list[actorSeed % list.length];
        address token = useToken ? address(usd) : ETH;
        if (retrieval.creditOf(actor, token) == 0) return;
        vm.prank(actor);
        retrieval.withdraw(token);
        ++done["withdraw"];
    }

    // ---------------------------------------------------------------- end of run

    /// @notice Ends every request through the permissionless timeout paths and withdraws every credit.
    function drain() external {
        vm.warp(
            block.timestamp + retrieval.joinWindow() + retrieval.maxDuration() + retrieval.challengeWindow()
                + retrieval.answerWindow() + uint256(retrieval.maxDocuments()) * retrieval.proofWindow() + 1
        );
        for (uint256 i = 0; i < _requests.length; ++i) {
            RequestState s = retrieval.state(_requests[i]);
            if (s == RequestState.JoinExpired || s == RequestState.Settleable) _settle(_requests[i], address(0xdead));
            s = retrieval.state(_requests[i]);
            require(s == RequestState.Settled || s == RequestState.Cancelled, "request not final after timeouts");
        }
        address[] memory list = this.actors();
        for (uint256 i = 0; i < list.length; ++i) {
            for (uint256 t = 0; t < 2; ++t) {
                address token = t == 0 ? ETH : address(usd);
                if (retrieval.creditOf(list[i], token) > 0) {
                    vm.prank(list[i]);
                    retrieval.withdraw(token);
                }
            }
        }
    }

    // ---------------------------------------------------------------- internals

    function _escrow(RetrievalRequest memory q) internal view returns (uint256) {
        return retrieval.requesterEscrowFor(q.documents, q.maxChallenges, q.inferenceP, q.proofZ);
    }

    function _settle(uint256 id, address caller) internal {
        RetrievalRequest memory q = retrieval.request(id);
        bool joined = q.status == RequestStatus.Joined;
        vm.prank(caller);
        retrieval.settle(id);
        uint256 held = _escrow(q);
        if (joined) {
            held += retrieval.bondFor(q.documents, q.beta, q.proofZ);
            --ghostLiveJoined;
        }
        ghostEscrow[q.token] -= held;
    }

    /// @dev Gives `who` exactly `amount` more of `token`, approved for `spender`; returns the
    /// msg.value to send (ETH) or 0.
    function _fund(address who, address token, uint256 amount, address spender) internal returns (uint256) {
        if (token == ETH) {
            vm.deal(who, who.balance + amount);
            return amount;
        }
        usd.mint(who, amount);
        vm.prank(who);
        usd.approve(spender, amount);
        return 0;
    }

    /// @dev One of the three most recent requests (so requests progress to the end within a run).
    function _pick(uint256 seed) internal view returns (uint256 id, RetrievalRequest memory q, bool ok) {
        uint256 n = _requests.length;
        if (n == 0) return (0, q, false);
        id = _requests[n - 1 - seed % (n < 3 ? n : 3)];
        q = retrieval.request(id);
        ok = true;
    }
}
