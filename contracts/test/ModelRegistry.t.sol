// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Fixture} from "./utils/Fixture.sol";
import {ERC1271Wallet, FeeOnTransferERC20, MockVerifier, ReentrantReceiver, RejectingReceiver} from "./mocks/Mocks.sol";

import {ModelRegistry} from "../src/ModelRegistry.sol";
import {ProofVerifier} from "../src/ProofVerifier.sol";
import {IEscrow} from "../src/interfaces/IEscrow.sol";
import {IModelRegistry} from "../src/interfaces/IModelRegistry.sol";
import {Model, ModelRecord, ModelStatus, Outcome, Prices, TokenPrices} from "../src/lib/Types.sol";

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @notice ModelRegistry and the EscrowBase ledger. The test contract is itself registered as a
/// protocol contract so it can lock, unlock, slash and record.
contract ModelRegistryTest is Fixture {
    function _protocols() internal view override returns (address[] memory protocols) {
        protocols = new address[](2);
        protocols[0] = address(rounds);
        protocols[1] = address(this);
    }

    // ---------------------------------------------------------------- constructor

    function test_constructor_parameters_succeeds() public view {
        assertEq(registry.n1(), N1);
        assertEq(registry.feeRecipient(), feeRecipient);
        assertEq(uint256(registry.unbondingDelay()), UNBONDING_DELAY);
        assertEq(registry.deployer(), address(this));
        assertEq(registry.requiredStake(ETH), 1000 * N1 * E);
        assertEq(registry.requiredStake(address(usd)), 1000 * N1 * E);
        Prices memory p = registry.prices(ETH);
        assertEq(p.exampleE, E);
        assertEq(p.proofZ, Z);
        assertEq(p.inferenceP, P);
        assertEq(p.feeEpsilon, FEE);
        assertTrue(registry.isAcceptedToken(ETH));
        assertTrue(registry.isAcceptedToken(address(usd)));
        assertFalse(registry.isAcceptedToken(address(0xbeef)));
        address[] memory tokens = registry.paymentTokens();
        assertEq(tokens.length, 2);
        assertEq(tokens[1], address(usd));
        assertTrue(registry.protocolsSet());
        assertTrue(registry.isProtocol(address(rounds)));
    }

    function test_constructor_noPaymentTokens_reverts() public {
        vm.expectRevert(IModelRegistry.NoPaymentTokens.selector);
        new ModelRegistry(new TokenPrices[](0), N1, feeRecipient, UNBONDING_DELAY);
    }

    function test_constructor_duplicateToken_reverts() public {
        TokenPrices[] memory list = _prices(ETH);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicatePaymentToken.selector, ETH));
        new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
    }

    function test_constructor_tokenNotContract_reverts() public {
        TokenPrices[] memory list = _prices(address(0xbeef));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.PaymentTokenNotContract.selector, address(0xbeef)));
        new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
    }

    function test_constructor_exampleNotAboveProof_reverts() public {
        _expectPricesNotOrdered(Z, Z, P);
    }

    function test_constructor_proofNotAboveInference_reverts() public {
        _expectPricesNotOrdered(E, P, P);
    }

    function test_constructor_zeroInference_reverts() public {
        _expectPricesNotOrdered(E, Z, 0);
    }

    function testFuzz_constructor_pricesOrder_succeedsIffOrdered(uint256 e, uint256 z, uint256 p) public {
        e = bound(e, 0, 1e30);
        z = bound(z, 0, 1e30);
        p = bound(p, 0, 1e30);
        TokenPrices[] memory list = new TokenPrices[](1);
        list[0] = TokenPrices(ETH, Prices(e, z, p, 0));
        if (e > z && z > p && p > 0) {
            ModelRegistry r = new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
            assertEq(r.requiredStake(ETH), 1000 * N1 * e);
        } else {
            vm.expectRevert(abi.encodeWithSelector(IModelRegistry.PricesNotOrdered.selector, ETH, e, z, p));
            new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
        }
    }

    function test_constructor_zeroN1_reverts() public {
        TokenPrices[] memory list = _prices(address(usd));
        vm.expectRevert(IModelRegistry.ZeroN1.selector);
        new ModelRegistry(list, 0, feeRecipient, UNBONDING_DELAY);
    }

    function test_constructor_zeroFeeRecipient_reverts() public {
        TokenPrices[] memory list = _prices(address(usd));
        vm.expectRevert(IModelRegistry.ZeroFeeRecipient.selector);
        new ModelRegistry(list, N1, address(0), UNBONDING_DELAY);
    }

    function test_constructor_zeroUnbondingDelay_reverts() public {
        TokenPrices[] memory list = _prices(address(usd));
        vm.expectRevert(IModelRegistry.ZeroUnbondingDelay.selector);
        new ModelRegistry(list, N1, feeRecipient, 0);
    }

    function test_constructor_unbondingDelayTooLong_reverts() public {
        TokenPrices[] memory list = _prices(address(usd));
        uint64 max = registry.MAX_UNBONDING_DELAY();
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnbondingDelayTooLong.selector, max + 1, max));
        new ModelRegistry(list, N1, feeRecipient, max + 1);
    }

    function test_constructor_stakeOverflow_reverts() public {
        TokenPrices[] memory list = new TokenPrices[](1);
        list[0] = TokenPrices(ETH, Prices(type(uint256).max / 1000, 2, 1, 0));
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x11));
        new ModelRegistry(list, 2, feeRecipient, UNBONDING_DELAY);
    }

    function _expectPricesNotOrdered(uint256 e, uint256 z, uint256 p) private {
        TokenPrices[] memory list = new TokenPrices[](1);
        list[0] = TokenPrices(ETH, Prices(e, z, p, FEE));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.PricesNotOrdered.selector, ETH, e, z, p));
        new ModelRegistry(list, N1, feeRecipient, UNBONDING_DELAY);
    }

    // ---------------------------------------------------------------- setProtocols

    function test_setProtocols_notDeployer_reverts() public {
        ModelRegistry fresh = new ModelRegistry(_prices(address(usd)), N1, feeRecipient, UNBONDING_DELAY);
        address[] memory protocols = new address[](1);
        protocols[0] = address(rounds);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotDeployer.selector, stranger));
        fresh.setProtocols(protocols);
    }

    function test_setProtocols_twice_reverts() public {
        vm.expectRevert(IModelRegistry.ProtocolsAlreadySet.selector);
        registry.setProtocols(new address[](0));
    }

    function test_setProtocols_notContract_reverts() public {
        ModelRegistry fresh = new ModelRegistry(_prices(address(usd)), N1, feeRecipient, UNBONDING_DELAY);
        address[] memory protocols = new address[](1);
        protocols[0] = stranger;
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ProtocolNotContract.selector, stranger));
        fresh.setProtocols(protocols);
    }

    function test_setProtocols_once_succeeds() public {
        ModelRegistry fresh = new ModelRegistry(_prices(address(usd)), N1, feeRecipient, UNBONDING_DELAY);
        address[] memory protocols = new address[](1);
        protocols[0] = address(rounds);
        vm.expectEmit(address(fresh));
        emit IModelRegistry.ProtocolsSet(protocols);
        fresh.setProtocols(protocols);
        assertTrue(fresh.isProtocol(address(rounds)));
        assertFalse(fresh.isProtocol(address(this)));
        assertTrue(fresh.protocolsSet());
    }

    // ---------------------------------------------------------------- registerModel

    function test_registerModel_eth_succeeds() public {
        vm.deal(provider, STAKE);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelRegistered(1, provider, address(verifier), WEIGHTS, ETH, STAKE, "ipfs://m");
        vm.prank(provider);
        uint256 id = registry.registerModel{value: STAKE}(address(verifier), WEIGHTS, "ipfs://m", ETH);
        assertEq(id, 1);
        assertEq(registry.modelCount(), 1);
        Model memory m = registry.model(id);
        assertEq(m.provider, provider);
        assertEq(uint256(m.status), uint256(ModelStatus.Active));
        assertEq(m.token, ETH);
        assertEq(m.verifier, address(verifier));
        assertEq(m.verifierCodehash, address(verifier).codehash);
        assertEq(m.weightCommitment, WEIGHTS);
        assertEq(m.stake, STAKE);
        assertEq(uint256(m.openJobs), 0);
        assertTrue(registry.isAvailable(id));
        assertEq(address(registry).balance, STAKE);
        assertEq(registry.totalOwed(ETH), STAKE);
        assertEq(provider.balance, 0);
    }

    function test_registerModel_erc20_succeeds() public {
        uint256 id = _registerToken(provider);
        assertEq(usd.balanceOf(address(registry)), STAKE);
        assertEq(usd.balanceOf(provider), 0);
        assertEq(registry.totalOwed(address(usd)), STAKE);
        assertEq(registry.model(id).token, address(usd));
    }

    function test_registerModel_idsIncrement_succeeds() public {
        assertEq(_registerEth(provider), 1);
        assertEq(_registerToken(provider), 2);
        assertEq(_registerEth(consumer), 3);
        assertEq(registry.totalOwed(ETH), 2 * STAKE);
    }

    function test_registerModel_tokenNotAccepted_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.TokenNotAccepted.selector, address(0xbeef)));
        registry.registerModel(address(verifier), WEIGHTS, "", address(0xbeef));
    }

    function test_registerModel_verifierNotContract_reverts() public {
        vm.deal(provider, STAKE);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.VerifierNotContract.selector, stranger));
        registry.registerModel{value: STAKE}(stranger, WEIGHTS, "", ETH);
    }

    function test_registerModel_zeroWeightCommitment_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidWeightCommitment.selector, bytes32(0)));
        registry.registerModel(address(verifier), bytes32(0), "", ETH);
    }

    function test_registerModel_weightCommitmentOutOfField_reverts() public {
        bytes32 wc = bytes32(ProofVerifier.SCALAR_FIELD);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidWeightCommitment.selector, wc));
        registry.registerModel(address(verifier), wc, "", ETH);
    }

    function test_registerModel_etherTooLow_reverts() public {
        vm.deal(provider, STAKE);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, STAKE, STAKE - 1));
        registry.registerModel{value: STAKE - 1}(address(verifier), WEIGHTS, "", ETH);
    }

    function test_registerModel_etherTooHigh_reverts() public {
        vm.deal(provider, STAKE + 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, STAKE, STAKE + 1));
        registry.registerModel{value: STAKE + 1}(address(verifier), WEIGHTS, "", ETH);
    }

    function test_registerModel_etherWithToken_reverts() public {
        usd.mint(provider, STAKE);
        vm.deal(provider, 1);
        vm.startPrank(provider);
        usd.approve(address(registry), STAKE);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.EtherValueMismatch.selector, 0, 1));
        registry.registerModel{value: 1}(address(verifier), WEIGHTS, "", address(usd));
        vm.stopPrank();
    }

    function test_registerModel_allowanceTooLow_reverts() public {
        usd.mint(provider, STAKE);
        vm.startPrank(provider);
        usd.approve(address(registry), STAKE - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(registry), STAKE - 1, STAKE)
        );
        registry.registerModel(address(verifier), WEIGHTS, "", address(usd));
        vm.stopPrank();
    }

    function test_registerModel_feeOnTransferToken_reverts() public {
        FeeOnTransferERC20 fot = new FeeOnTransferERC20();
        ModelRegistry r = new ModelRegistry(_prices(address(fot)), N1, feeRecipient, UNBONDING_DELAY);
        fot.mint(provider, STAKE);
        vm.startPrank(provider);
        fot.approve(address(r), STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(IEscrow.TransferAmountMismatch.selector, address(fot), STAKE, STAKE - STAKE / 100)
        );
        r.registerModel(address(verifier), WEIGHTS, "", address(fot));
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- aggregation verifier

    function test_registerAggregationVerifier_provider_succeeds() public {
        uint256 id = _registerEth(provider);
        MockVerifier agg = new MockVerifier();
        (address v, bytes32 h, uint32 b, uint64 at) = registry.aggregationTerms(id);
        assertEq(v, address(0));
        assertEq(h, bytes32(0));
        assertEq(uint256(b), 0);
        assertEq(uint256(at), 0);
        vm.warp(1_234_567);
        vm.expectEmit(address(registry));
        emit IModelRegistry.AggregationVerifierRegistered(id, address(agg), address(agg).codehash, 16);
        vm.prank(provider);
        registry.registerAggregationVerifier(id, address(agg), 16);
        (v, h, b, at) = registry.aggregationTerms(id);
        assertEq(v, address(agg));
        assertEq(h, address(agg).codehash);
        assertEq(uint256(b), 16);
        assertEq(uint256(at), 1_234_567, "registeredAt");
        // The model and its single-proof terms are unchanged.
        Model memory m = registry.model(id);
        assertEq(m.verifier, address(verifier));
        assertEq(m.verifierCodehash, address(verifier).codehash);
        // An unknown model has none.
        (v, h, b, at) = registry.aggregationTerms(99);
        assertEq(v, address(0));
    }

    function test_registerAggregationVerifier_batchSizeBounds_succeeds() public {
        uint256 a = _registerEth(provider);
        uint256 b = _registerEth(provider);
        vm.startPrank(provider);
        registry.registerAggregationVerifier(a, address(verifier), 1);
        registry.registerAggregationVerifier(b, address(verifier), registry.MAX_AGGREGATION_BATCH());
        vm.stopPrank();
        (,, uint32 size,) = registry.aggregationTerms(b);
        assertEq(uint256(size), 64);
    }

    function test_registerAggregationVerifier_notFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 7));
        registry.registerAggregationVerifier(7, address(verifier), 4);
    }

    function test_registerAggregationVerifier_notProvider_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelProvider.selector, id, stranger, provider));
        registry.registerAggregationVerifier(id, address(verifier), 4);
    }

    function test_registerAggregationVerifier_twice_reverts() public {
        uint256 id = _registerEth(provider);
        MockVerifier other = new MockVerifier();
        vm.startPrank(provider);
        registry.registerAggregationVerifier(id, address(verifier), 4);
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.AggregationVerifierAlreadyRegistered.selector, id, address(verifier))
        );
        registry.registerAggregationVerifier(id, address(other), 8);
        vm.stopPrank();
    }

    function test_registerAggregationVerifier_openJob_reverts() public {
        uint256 id = _registerEth(provider);
        registry.lock(id);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, id, 1));
        registry.registerAggregationVerifier(id, address(verifier), 4);
        // Once the job is closed it may be added.
        registry.unlock(id);
        vm.prank(provider);
        registry.registerAggregationVerifier(id, address(verifier), 4);
    }

    function test_registerAggregationVerifier_notActive_reverts() public {
        uint256 id = _registerEth(provider);
        vm.startPrank(provider);
        registry.requestUnbond(id);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotActive.selector, id, ModelStatus.Unbonding));
        registry.registerAggregationVerifier(id, address(verifier), 4);
        vm.stopPrank();
    }

    function test_registerAggregationVerifier_noCode_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.VerifierNotContract.selector, stranger));
        registry.registerAggregationVerifier(id, stranger, 4);
    }

    function test_registerAggregationVerifier_batchSizeOutOfRange_reverts() public {
        uint256 id = _registerEth(provider);
        vm.startPrank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AggregationBatchSizeOutOfRange.selector, 0, 64));
        registry.registerAggregationVerifier(id, address(verifier), 0);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.AggregationBatchSizeOutOfRange.selector, 65, 64));
        registry.registerAggregationVerifier(id, address(verifier), 65);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------- unbonding

    function test_requestUnbond_notFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 7));
        registry.requestUnbond(7);
    }

    function test_requestUnbond_notProvider_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelProvider.selector, id, stranger, provider));
        registry.requestUnbond(id);
    }

    function test_requestUnbond_twice_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(provider);
        registry.requestUnbond(id);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotActive.selector, id, ModelStatus.Unbonding));
        registry.requestUnbond(id);
    }

    function test_requestUnbond_provider_succeeds() public {
        uint256 id = _registerEth(provider);
        uint64 at = uint64(block.timestamp) + UNBONDING_DELAY;
        vm.expectEmit(address(registry));
        emit IModelRegistry.UnbondRequested(id, at);
        vm.prank(provider);
        registry.requestUnbond(id);
        Model memory m = registry.model(id);
        assertEq(uint256(m.status), uint256(ModelStatus.Unbonding));
        assertEq(uint256(m.unbondableAt), at);
        assertFalse(registry.isAvailable(id));
    }

    function test_withdrawStake_notProvider_reverts() public {
        uint256 id = _unbonding();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelProvider.selector, id, stranger, provider));
        registry.withdrawStake(id);
    }

    function test_withdrawStake_notUnbonding_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotUnbonding.selector, id, ModelStatus.Active));
        registry.withdrawStake(id);
    }

    function test_withdrawStake_beforeDelay_reverts() public {
        uint256 id = _unbonding();
        uint64 at = registry.model(id).unbondableAt;
        vm.warp(at - 1);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnbondingNotElapsed.selector, id, at, at - 1));
        registry.withdrawStake(id);
    }

    function test_withdrawStake_openJobs_reverts() public {
        uint256 id = _registerEth(provider);
        registry.lock(id);
        vm.prank(provider);
        registry.requestUnbond(id);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelHasOpenJobs.selector, id, 1));
        registry.withdrawStake(id);
        // Once the job ends the stake comes out.
        registry.unlock(id);
        vm.prank(provider);
        registry.withdrawStake(id);
        assertEq(registry.creditOf(provider, ETH), STAKE);
    }

    function test_withdrawStake_afterDelay_succeeds() public {
        uint256 id = _unbonding();
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.expectEmit(address(registry));
        emit IModelRegistry.StakeWithdrawn(id, provider, STAKE);
        vm.expectEmit(address(registry));
        emit IEscrow.Credited(provider, ETH, STAKE);
        vm.prank(provider);
        registry.withdrawStake(id);
        assertEq(uint256(registry.model(id).status), uint256(ModelStatus.Withdrawn));
        assertEq(registry.model(id).stake, 0);
        assertEq(registry.creditOf(provider, ETH), STAKE);
        assertEq(registry.totalOwed(ETH), STAKE);

        vm.expectEmit(address(registry));
        emit IEscrow.Withdrawn(provider, ETH, provider, STAKE);
        vm.prank(provider);
        assertEq(registry.withdraw(ETH), STAKE);
        assertEq(provider.balance, STAKE);
        assertEq(address(registry).balance, 0);
        assertEq(registry.totalOwed(ETH), 0);
    }

    function test_withdrawStake_twice_reverts() public {
        uint256 id = _unbonding();
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        registry.withdrawStake(id);
        vm.prank(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotUnbonding.selector, id, ModelStatus.Withdrawn));
        registry.withdrawStake(id);
    }

    function test_withdrawStake_erc20AfterSlash_succeeds() public {
        uint256 id = _registerToken(provider);
        registry.lock(id);
        registry.slash(id, 3 * E, consumer);
        registry.unlock(id);
        vm.prank(provider);
        registry.requestUnbond(id);
        vm.warp(block.timestamp + UNBONDING_DELAY);
        vm.prank(provider);
        registry.withdrawStake(id);
        vm.prank(provider);
        registry.withdraw(address(usd));
        vm.prank(consumer);
        registry.withdraw(address(usd));
        assertEq(usd.balanceOf(provider), STAKE - 3 * E);
        assertEq(usd.balanceOf(consumer), 3 * E);
        assertEq(usd.balanceOf(address(registry)), 0);
        assertEq(registry.totalOwed(address(usd)), 0);
    }

    function _unbonding() private returns (uint256 id) {
        id = _registerEth(provider);
        vm.prank(provider);
        registry.requestUnbond(id);
    }

    // ---------------------------------------------------------------- lock / unlock

    function test_lock_notProtocol_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotProtocol.selector, stranger));
        registry.lock(id);
    }

    function test_lock_notFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 1));
        registry.lock(1);
    }

    function test_lock_unbonding_reverts() public {
        uint256 id = _unbonding();
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelNotAvailable.selector, id, ModelStatus.Unbonding, STAKE, STAKE)
        );
        registry.lock(id);
    }

    function test_lock_slashedBelowStake_reverts() public {
        uint256 id = _registerEth(provider);
        registry.lock(id);
        registry.slash(id, 1, consumer);
        assertFalse(registry.isAvailable(id));
        vm.expectRevert(
            abi.encodeWithSelector(IModelRegistry.ModelNotAvailable.selector, id, ModelStatus.Active, STAKE - 1, STAKE)
        );
        registry.lock(id);
    }

    function test_lock_protocol_succeeds() public {
        uint256 id = _registerEth(provider);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelLocked(id, address(this), 1);
        registry.lock(id);
        registry.lock(id);
        assertEq(uint256(registry.model(id).openJobs), 2);
        assertEq(registry.locksHeld(id, address(this)), 2);
        assertEq(registry.locksHeld(id, address(rounds)), 0);
    }

    function test_unlock_noLock_reverts() public {
        uint256 id = _registerEth(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NoLockHeld.selector, id, address(this)));
        registry.unlock(id);
    }

    function test_unlock_notProtocol_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotProtocol.selector, stranger));
        registry.unlock(id);
    }

    function test_unlock_whileUnbonding_succeeds() public {
        uint256 id = _registerEth(provider);
        registry.lock(id);
        vm.prank(provider);
        registry.requestUnbond(id);
        vm.expectEmit(address(registry));
        emit IModelRegistry.ModelUnlocked(id, address(this), 0);
        registry.unlock(id);
        assertEq(uint256(registry.model(id).openJobs), 0);
        assertEq(registry.locksHeld(id, address(this)), 0);
    }

    // ---------------------------------------------------------------- slash

    function test_slash_notProtocol_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotProtocol.selector, stranger));
        registry.slash(id, 1, stranger);
    }

    function test_slash_noLock_reverts() public {
        uint256 id = _registerEth(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NoLockHeld.selector, id, address(this)));
        registry.slash(id, 1, consumer);
    }

    function test_slash_zeroAmount_reverts() public {
        uint256 id = _lockedModel();
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ZeroSlashAmount.selector, id));
        registry.slash(id, 0, consumer);
    }

    function test_slash_exceedsStake_reverts() public {
        uint256 id = _lockedModel();
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.SlashExceedsStake.selector, id, STAKE + 1, STAKE));
        registry.slash(id, STAKE + 1, consumer);
    }

    function test_slash_zeroRecipient_reverts() public {
        uint256 id = _lockedModel();
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ZeroSlashRecipient.selector, id));
        registry.slash(id, 1, address(0));
    }

    function test_slash_lockedModel_succeeds() public {
        uint256 id = _lockedModel();
        vm.expectEmit(address(registry));
        emit IModelRegistry.StakeSlashed(id, address(this), consumer, 2 * N1 * E, STAKE - 2 * N1 * E);
        registry.slash(id, 2 * N1 * E, consumer);
        assertEq(registry.model(id).stake, STAKE - 2 * N1 * E);
        assertEq(registry.creditOf(consumer, ETH), 2 * N1 * E);
        assertEq(registry.totalOwed(ETH), STAKE); // moved from stake to credit
        vm.prank(consumer);
        registry.withdraw(ETH);
        assertEq(consumer.balance, 2 * N1 * E);
        assertEq(address(registry).balance, STAKE - 2 * N1 * E);
    }

    function testFuzz_slash_accounting_succeeds(uint256 a, uint256 b) public {
        uint256 id = _lockedModel();
        a = bound(a, 1, STAKE);
        b = bound(b, 0, STAKE - a);
        registry.slash(id, a, consumer);
        if (b > 0) registry.slash(id, b, stranger);
        assertEq(registry.model(id).stake, STAKE - a - b);
        assertEq(registry.creditOf(consumer, ETH) + registry.creditOf(stranger, ETH), a + b);
        assertEq(registry.totalOwed(ETH), address(registry).balance);
    }

    function _lockedModel() private returns (uint256 id) {
        id = _registerEth(provider);
        registry.lock(id);
    }

    // ---------------------------------------------------------------- record

    function test_recordOutcome_notProtocol_reverts() public {
        uint256 id = _registerEth(provider);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotProtocol.selector, stranger));
        registry.recordOutcome(id, Outcome.AuditPassed);
    }

    function test_recordOutcome_noLock_reverts() public {
        uint256 id = _registerEth(provider);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NoLockHeld.selector, id, address(this)));
        registry.recordOutcome(id, Outcome.AuditPassed);
    }

    function test_recordOutcome_eachOutcome_succeeds() public {
        uint256 id = _lockedModel();
        vm.expectEmit(address(registry));
        emit IModelRegistry.OutcomeRecorded(id, address(this), Outcome.AuditAborted);
        registry.recordOutcome(id, Outcome.AuditAborted);
        registry.recordOutcome(id, Outcome.AuditPassed);
        registry.recordOutcome(id, Outcome.AuditPassed);
        registry.recordOutcome(id, Outcome.AuditFailed);
        registry.recordOutcome(id, Outcome.RoundCompleted);
        registry.recordOutcome(id, Outcome.RoundFailed);
        registry.recordOutcome(id, Outcome.RoundFailed);
        ModelRecord memory r = registry.record(id);
        assertEq(uint256(r.auditsPassed), 2);
        assertEq(uint256(r.auditsFailed), 1);
        assertEq(uint256(r.auditsAborted), 1);
        assertEq(uint256(r.roundsCompleted), 1);
        assertEq(uint256(r.roundsFailed), 2);
    }

    function test_record_notFound_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.ModelNotFound.selector, 3));
        registry.record(3);
    }

    function test_prices_notAccepted_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.TokenNotAccepted.selector, address(0xbeef)));
        registry.prices(address(0xbeef));
    }

    // ---------------------------------------------------------------- withdraw (EscrowBase)

    function test_withdraw_nothing_reverts() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IEscrow.NothingToWithdraw.selector, stranger, ETH));
        registry.withdraw(ETH);
    }

    function test_withdrawTo_zeroRecipient_reverts() public {
        vm.expectRevert(IEscrow.ZeroRecipient.selector);
        registry.withdrawTo(ETH, address(0));
    }

    function test_withdraw_rejectingReceiver_reverts() public {
        RejectingReceiver receiver = new RejectingReceiver();
        uint256 id = _lockedModel();
        registry.slash(id, 5, address(receiver));
        vm.expectRevert("no ETH");
        receiver.callWithdraw(registry, ETH);
        // The credit is intact and can be sent elsewhere.
        assertEq(registry.creditOf(address(receiver), ETH), 5);
        assertEq(receiver.callWithdrawTo(registry, ETH, stranger), 5);
        assertEq(stranger.balance, 5);
        assertEq(registry.creditOf(address(receiver), ETH), 0);
    }

    function test_withdraw_reentrant_reverts() public {
        ReentrantReceiver receiver = new ReentrantReceiver();
        uint256 id = _lockedModel();
        registry.slash(id, 5, address(receiver));
        vm.expectRevert(ReentrancyGuard.ReentrancyGuardReentrantCall.selector);
        receiver.callWithdraw(registry);
        assertEq(registry.creditOf(address(receiver), ETH), 5);
    }

    function test_withdraw_erc20_succeeds() public {
        uint256 id = _registerToken(provider);
        registry.lock(id);
        registry.slash(id, 42, consumer);
        vm.expectEmit(address(registry));
        emit IEscrow.Withdrawn(consumer, address(usd), stranger, 42);
        vm.prank(consumer);
        assertEq(registry.withdrawTo(address(usd), stranger), 42);
        assertEq(usd.balanceOf(stranger), 42);
        assertEq(usd.balanceOf(address(registry)), STAKE - 42);
        assertEq(registry.totalOwed(address(usd)), STAKE - 42);
    }

    function test_registerModel_contractProvider_succeeds() public {
        ERC1271Wallet wallet = new ERC1271Wallet(provider);
        vm.deal(address(wallet), STAKE);
        bytes memory data = abi.encodeCall(IModelRegistry.registerModel, (address(verifier), WEIGHTS, "ipfs://w", ETH));
        bytes memory ret = wallet.execute(address(registry), STAKE, data);
        uint256 id = abi.decode(ret, (uint256));
        assertEq(registry.model(id).provider, address(wallet));
    }
}
