"""A serving round (paper 5.3, ServingRound) from MC's side, end to end and resumable.

``RoundRun.open`` checks the model and MP's agent (``GET /health``) before escrowing 2KZ, saves
MC's inputs to the state file (:mod:`.jobs`) and opens the round. Each pass of ``run`` then reads
the round's phase and makes MC's move or waits for MP's: once MP joined, MC posts its inputs to
MP's agent and checks the signed predictions (the signature recovers to the round's provider,
the classes rebuild the signed root: ``ServingConsumer.check``), posts the root on chain (MP is
bound from then on), chooses the contested subset and contests it, waits for MP's answers and
checks each answered proof locally (:mod:`.answers`); after the round deadline it settles.
A consumer killed at any point continues with ``zkmarket round resume ID``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from ..participants.retrieval import RetrievalError, load_documents
from ..participants.serving_round import (
    RoundInputs,
    ServedPredictions,
    ServingConsumer,
    ServingError,
)
from ..protocol.states import ROUND_OUTCOMES, ROUND_STATES
from ..provider_api import post_round_inputs
from .client import ConsumerClient, format_amount, token_name
from .driver import Reporter, Wait, check_provider, when
from .errors import ConsumerError, StateFileError
from .jobs import (
    JobRun,
    JobSettlement,
    JobState,
    SpotCheck,
    check_available,
    find_job_state,
    job_path,
    read_settlement,
    settle_job,
)
from .testsets import digits_examples

ZERO = b"\x00" * 32


def rounds_of(client: ConsumerClient):
    return client.contracts["ServingRound"]


def load_inputs(path: str | Path | None = None, digits: int | None = None, offset: int = 0) -> list[bytes]:
    """MC's K inputs: a file (.npy array, one input per row; or a JSON list of hex strings or
    nested byte lists), or K examples of the bundled digits test split."""
    if (path is None) == (digits is None):
        raise ConsumerError("give the inputs as --inputs FILE (.npy or .json) or --digits K")
    if digits is not None:
        return digits_examples(digits, offset)[0]
    try:
        return load_documents(path)
    except RetrievalError as e:
        raise ConsumerError(str(e).replace("documents", "inputs")) from None


class RoundRun(JobRun):
    NOUN = "round"
    RESUME = "zkmarket round resume"
    STATES, OUTCOMES, ID_ARG = ROUND_STATES, ROUND_OUTCOMES, "roundId"
    EVENTS, PAYOUTS = ("RoundSettled", "RoundCancelled"), ("consumerPayout", "providerPayout")
    CHECKED = ("contested", "PredictionsContested")

    def __init__(self, client: ConsumerClient, state: JobState, reporter: Reporter | None = None, *,
                 post: Callable = post_round_inputs, **kwargs):
        super().__init__(client, state, reporter, **kwargs)
        self.rounds = self.contract = rounds_of(client)
        self.post = post
        items = state.data.get("inputs")
        self.inputs = RoundInputs.commit([bytes.fromhex(x) for x in items]) if items else None
        served = state.data.get("served")
        self.served = ServedPredictions.from_json(json.dumps(served)) if served else None
        self._seen: str | None = None
        self._said_uncontested = False

    # ------------------------------------------------------------------ start / resume
    @classmethod
    def open(cls, client: ConsumerClient, items: list[bytes], model_id: int, beta: int, duration: int,
             provider_url: str, plan: SpotCheck, state_dir: str | Path = ".", reporter: Reporter | None = None,
             **kwargs) -> "RoundRun":
        """Checks what it can, saves the inputs, escrows 2KZ and opens the round."""
        reporter = reporter or Reporter()
        rounds = rounds_of(client)
        check_available(client, model_id)
        k = len(items)
        plan.check(k)
        check_provider(provider_url)
        inputs = RoundInputs.commit(items)
        token = client.call(client.registry, "jobTerms", model_id).token
        z = client.call(client.registry, "prices", token).proofZ
        escrow = 2 * k * z
        value = client.pay_token(token, rounds.address, escrow)
        data = {"model_id": model_id, "inputs": [x.hex() for x in inputs.items], "inputs_root": inputs.root.hex(),
                "provider_url": provider_url, "plan": plan.to_dict(), "served": None, "contested": None}
        state = JobState.pending(state_dir, "round", client, rounds, data)  # the inputs are on disk first
        receipt = state.open_with(client, rounds, "openRound", [model_id, k, beta, duration, inputs.root], value)
        opened = client.event(receipt, rounds, "RoundOpened")
        state.assign(int(opened["roundId"]))
        reporter.say(f"opened round {state.job_id} of model {model_id}: K={k} inputs, beta={beta}, duration "
                     f"{duration}s, escrow 2KZ = {format_amount(escrow, token)}; MP must join by "
                     f"{when(opened['joinDeadline'], client.chain_time())}")
        reporter.say(f"contest plan: {plan.describe()}; MC's state -> {state.path}")
        return cls(client, state, reporter, **kwargs)

    @classmethod
    def attach(cls, client: ConsumerClient, round_id: int, state_dir: str | Path = ".", *,
               provider_url: str | None = None, consumer_only: bool = True, reporter: Reporter | None = None,
               **kwargs) -> "RoundRun":
        """The round with MC's state file when there is one (else what the chain knows: MC's
        inputs and MP's served predictions are then unknown here)."""
        rounds = rounds_of(client)
        if ROUND_STATES[client.call(rounds, "state", round_id)] == "None":
            raise ConsumerError(f"no round {round_id} on this deployment (ServingRound {rounds.address} has "
                                f"{client.call(rounds, 'roundCount')} rounds)")
        r = client.call(rounds, "round", round_id)
        if consumer_only and r.consumer != client.address:
            raise ConsumerError(f"round {round_id} was opened by {r.consumer}, not by this account "
                                f"{client.address}; use the consumer's key (--keystore / $ZKMARKET_PRIVATE_KEY)")
        root = bytes(r.inputsRoot).hex()
        state = None
        if consumer_only or job_path(state_dir, "round", round_id).is_file():
            state = find_job_state(state_dir, "round", client, rounds, round_id,
                                   lambda s: s.data.get("inputs_root") == root and s.data.get("model_id") == r.modelId)
        if state is None:
            state = JobState(job_path(state_dir, "round", round_id), "round", client.deployment.chain_id,
                             rounds.address, r.consumer, round_id,
                             {"model_id": r.modelId, "inputs": None, "inputs_root": root, "provider_url": provider_url,
                              "plan": SpotCheck().to_dict(), "served": None, "contested": None})
            if reporter is not None and consumer_only:
                reporter.say(f"no state file of round {round_id} in {Path(state_dir).resolve()}: MC's inputs are "
                             f"unknown here, so nothing new will be contested")
        elif provider_url:
            state.data["provider_url"] = provider_url
            state.save()
        return cls(client, state, reporter, **kwargs)

    # ------------------------------------------------------------------ the steps
    def step(self, current: str) -> Wait | None:
        r = self.job()
        self._say_phase(current, r)
        if current == "Open":
            return Wait(f"waiting for MP to join round {self.job_id}", r.joinDeadline)
        if current == "JoinExpired":
            self.reporter.say("MP did not join before the join deadline: settling (MC's escrow is refunded)")
            self.client.send(self.rounds, "settle", [self.job_id])
            return None
        if current == "Serving":
            return self._serving(r)
        if current == "AwaitingAnswers":
            return self._awaiting(r)
        if current == "Settleable":
            self.settle_now(r)
            return None
        raise ConsumerError(f"round {self.job_id} is {current}")

    def _say_phase(self, current: str, r: list) -> None:
        if current == self._seen:
            return
        self._seen = current
        if current == "Serving" and not self.served:
            self.reporter.say(f"MP {r.provider} joined (escrow beta*K*Z = "
                              f"{format_amount(r.beta * r.k * r.proofZ, r.token)}); round deadline "
                              f"{when(r.roundDeadline, self.client.chain_time())}")

    def moves(self) -> ServingConsumer:
        """MC's transactions and checks, the same the tests and the demo make (the client duck-types
        a MarketConnection)."""
        return ServingConsumer(self.client, self.rounds, self.inputs)

    def _awaiting(self, r: list) -> Wait:
        return Wait(f"waiting for MP's proofs: {r.answered}/{r.contested} contests answered",
                    self.answer_deadline())

    def _serving(self, r: list) -> Wait | None:
        if self.served is None:
            return self._fetch(r)
        if bytes(r.predictionsRoot) == ZERO:
            self.moves().commit(self.job_id, self.served)
            self.reporter.say(f"posted MP's signed predictions root 0x{self.served.root.hex()} on chain: MP is bound "
                              f"to its {len(self.served.classes)} predictions")
            return None
        if bytes(r.predictionsRoot) != self.served.root:
            raise ConsumerError(f"round {self.job_id} has predictions root 0x{bytes(r.predictionsRoot).hex()} on "
                                f"chain, not the 0x{self.served.root.hex()} MP served to this consumer")
        contested = self.state.data.get("contested")
        if contested is None:
            plan = SpotCheck.from_dict(self.state.data.get("plan"))
            contested = plan.choose(r.k) if self.inputs is not None else []
            self.state.data["contested"] = contested
            self.state.save()  # before the contest is sent: a resume contests the same indices
        if contested and r.contested == 0:
            self.moves().contest(self.job_id, contested)
            self.reporter.say(f"contested predictions {contested}; MP must prove them by "
                              f"{when(self.answer_deadline(), self.client.chain_time())}")
            return None
        if r.answered < r.contested:
            return self._awaiting(r)
        if r.contested == 0 and not self._said_uncontested:
            self.reporter.say("nothing contested: the predictions are not spot-checked (both escrows are returned)")
            self._said_uncontested = True
        if r.contested:
            self.check_answers(r)
        return self.until_deadline(r.roundDeadline, "round deadline")

    def _fetch(self, r: list) -> Wait | None:
        url = self.state.data.get("provider_url")
        if not url:
            raise ConsumerError(f"no provider URL for round {self.job_id}: run `zkmarket round resume {self.job_id} "
                                f"--provider-url URL`")
        if self.inputs is None:
            raise StateFileError(f"MC's inputs of round {self.job_id} are not in a state file here, so they cannot "
                                 f"be sent; use --state-dir with the folder of `zkmarket-round-{self.job_id}.json`")
        try:
            served = self.post(url, self.job_id, self.inputs)
        except ConnectionError as e:
            return Wait(f"waiting for MP's agent ({e})", r.roundDeadline)
        except ServingError as e:
            if e.status == 409 or e.status >= 500:
                return Wait(f"waiting for MP's agent to serve the inputs ({e})", r.roundDeadline)
            raise ConsumerError(f"MP's agent at {url} refused the inputs of round {self.job_id}: {e}; nothing was "
                                f"committed: if MP serves nothing, `zkmarket round settle {self.job_id}` after the "
                                f"round deadline returns both escrows") from None
        try:
            self.moves().check(self.job_id, served)
        except ServingError as e:
            raise ConsumerError(f"MP's predictions for round {self.job_id} fail the check: {e}; nothing was "
                                f"committed (after the round deadline `zkmarket round settle {self.job_id}` returns "
                                f"both escrows)") from None
        self.served = served
        self.state.data["served"] = json.loads(served.to_json(provider=r.provider))
        self.state.save()
        self.reporter.say(f"MP served {len(served.classes)} predictions, signed by the model's provider "
                          f"{r.provider} (EIP-712, recovered); the classes rebuild the signed root")
        return None

    # ------------------------------------------------------------------ proofs and settlement
    def answer_context(self, r: list) -> dict:
        return {"model_id": r.modelId, "inputs_root": bytes(r.inputsRoot),
                "results_root": bytes(r.predictionsRoot),
                "commitments": self.inputs.commitments if self.inputs else None,
                "classes": self.served.classes if self.served else None}

    def deadline_of(self, current: str) -> int | None:
        r = self.job()
        return {"Open": r.joinDeadline, "Serving": r.roundDeadline,
                "AwaitingAnswers": self.answer_deadline()}.get(current)


def settle_round(client: ConsumerClient, round_id: int, state_dir: str | Path = ".", *, verify: bool = True,
                 warp: bool = False, reporter: Reporter | None = None) -> JobSettlement:
    """Ends a round whose phase allows it (anyone may): checks the answered proofs first."""
    run = RoundRun.attach(client, round_id, state_dir, consumer_only=False, reporter=reporter or Reporter(),
                          verify=verify, warp=warp)
    return settle_job(run, warp)


def describe_round(client: ConsumerClient, round_id: int, state_dir: str | Path = ".") -> dict:
    """A round's phase, parties, sizes, deadlines, roots, contests and settlement, plus MC's
    predictions when its state file is here."""
    rounds = rounds_of(client)
    current = ROUND_STATES[client.call(rounds, "state", round_id)]
    if current == "None":
        raise ConsumerError(f"no round {round_id} on this deployment (ServingRound {rounds.address} has "
                            f"{client.call(rounds, 'roundCount')} rounds)")
    r = client.call(rounds, "round", round_id)
    now = client.chain_time()
    joined = int(r.provider, 16) != 0 and current not in ("Open", "JoinExpired")
    live = current not in ("Settled", "Cancelled")
    answer_deadline = int(client.call(rounds, "answerDeadline", round_id))
    logs = rounds.events.PredictionsContested.get_logs(argument_filters={"roundId": round_id},
                                                      from_block=client.deployment.start_block)
    contested = sorted(int(i) for e in logs for i in e["args"]["indices"])
    answered = rounds.events.ContestAnswered.get_logs(argument_filters={"roundId": round_id},
                                                      from_block=client.deployment.start_block)
    finished = None
    if current in ("Settled", "Cancelled"):
        finished = read_settlement(client, rounds, "round", round_id, r.token, ROUND_OUTCOMES, "RoundSettled",
                                   "RoundCancelled", "roundId", ("consumerPayout", "providerPayout"))
    served = None
    path = job_path(state_dir, "round", round_id)
    if path.is_file():
        state = JobState.load(path)
        if (state.chain_id, state.contract.lower()) == (client.deployment.chain_id, rounds.address.lower()):
            served = (state.data.get("served") or {}).get("classes")

    def deadline(t: int) -> dict:
        return {"at": int(t), "text": when(int(t), now)}

    token = r.token
    return {
        "round_id": round_id, "state": current, "model_id": r.modelId, "consumer": r.consumer,
        "provider": r.provider if joined else None, "k": r.k, "beta": r.beta, "duration": r.duration,
        "token": token_name(token), "proof_z": r.proofZ,
        "consumer_escrow": 2 * r.k * r.proofZ, "provider_escrow": r.beta * r.k * r.proofZ,
        "consumer_escrow_text": format_amount(2 * r.k * r.proofZ, token),
        "provider_escrow_text": format_amount(r.beta * r.k * r.proofZ, token),
        "join_deadline": deadline(r.joinDeadline) if live and not joined else None,
        "round_deadline": deadline(r.roundDeadline) if live and joined else None,
        "answer_deadline": deadline(answer_deadline) if live and joined and contested else None,
        "inputs_root": "0x" + bytes(r.inputsRoot).hex(),
        "predictions_root": None if bytes(r.predictionsRoot) == ZERO else "0x" + bytes(r.predictionsRoot).hex(),
        "contested": contested, "answered": sorted(int(e["args"]["index"]) for e in answered),
        "predictions": served,
        "settlement": None if finished is None else finished.to_dict(),
    }
