"""Serving rounds (paper 5.3) in the agent: join rounds of its models by policy, serve MC's
inputs over HTTP with signed predictions, answer contests with proofs before the answer
deadline, settle and withdraw. The role logic is participants.serving_round.ServingProvider;
this module only decides, from chain state plus the stored inputs, which step is due."""

from __future__ import annotations

from dataclasses import dataclass

from ..participants.serving_round import (
    RoundInputs,
    ServingError,
    ServingProvider,
)
from .jobs import EventJobs
from .logs import log
from .state import ROUND


@dataclass
class RoundPolicy:
    """Which rounds to join: at most `max_k` predictions (each contested one is a proof to make
    in the answer window) and a provider escrow multiplier beta in [min_beta, max_beta] (MP
    risks beta*K*Z)."""

    max_k: int = 256
    min_beta: int = 2
    max_beta: int = 10

    def accepts(self, k: int, beta: int) -> bool:
        return k <= self.max_k and self.min_beta <= beta <= self.max_beta


class RoundJobs(EventJobs):
    KIND, EVENT, ID_ARG, ROLE = ROUND, "RoundOpened", "roundId", ServingProvider

    def __init__(self, *args, policy: RoundPolicy | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.policy = policy or RoundPolicy()

    def describe(self, args) -> dict:
        return {"model": args["modelId"], "k": args["k"], "beta": args["beta"]}

    # ------------------------------------------------------------ HTTP: POST /rounds/<id>/inputs

    def serve(self, round_id: int, items: list[bytes]) -> str:
        """MC's K inputs -> the predictions JSON (classes, root, Merkle proofs, MP's EIP-712
        signature). Raises ServingError (with the HTTP status) when the inputs do not rebuild the
        round's committed inputs root or the round does not serve now. The inputs and classes
        are stored before the signed answer leaves, so contests can always be answered."""
        r = self.contract.functions.round(round_id).call()
        if r.provider != self.market.account.address or r.modelId not in self.models:
            raise ServingError(f"round {round_id} is not a round of a model this agent serves", 404)
        role = self.role(r.modelId)
        inputs = role.check_inputs(round_id, items)
        stored = self.state.served_round(round_id)
        same = stored is not None and stored["inputs"] == [x.hex() for x in inputs.items]
        classes = stored["classes"] if same else role.classify(inputs.items)
        if not same:
            self.state.save_served_round(round_id, {"inputs": [x.hex() for x in inputs.items], "classes": classes})
        served = role.serve(round_id, inputs, classes)
        log(self.logger, "predictions served", round=round_id, k=len(classes), root="0x" + served.root.hex())
        return served.to_json(provider=self.market.account.address)

    # ------------------------------------------------------------ one step per tick

    def step(self, round_id: int) -> None:
        r = self.contract.functions.round(round_id).call()
        role = self.role(r.modelId)
        current = role.state(round_id)
        if current == "Open":
            if self.policy.accepts(r.k, r.beta):
                role.join(round_id)
                log(self.logger, "joined", round=round_id, escrow=r.beta * r.k * r.proofZ)
            else:
                log(self.logger, "declined", round=round_id, k=r.k, beta=r.beta)
                self.state.finish_job(round_id, self.KIND)
        elif current in ("Serving", "AwaitingAnswers") and r.contested:
            self._answer(round_id, r, role)
        elif current == "Settleable":
            settled = role.settle(round_id)
            log(self.logger, "settled", round=round_id, **settled)
        elif current in ("Settled", "Cancelled", "JoinExpired"):
            self.close(round_id, current, r.token)

    def _answer(self, round_id: int, r: list, role: ServingProvider) -> None:
        pending = role.pending(round_id)
        if not pending:
            return
        stored = self.state.served_round(round_id)
        if stored is None:
            raise ServingError(f"round {round_id}: contests {pending} but no inputs stored here")
        inputs = RoundInputs.commit([bytes.fromhex(x) for x in stored["inputs"]])
        served = role.serve(round_id, inputs, stored["classes"])
        if served.root != r.predictionsRoot:
            raise ServingError(f"round {round_id}: committed predictions root 0x{r.predictionsRoot.hex()} "
                               f"is not the one served (0x{served.root.hex()})")
        self.prove_and_answer(round_id, role, pending, r.modelId, inputs, served, "contests answered")
