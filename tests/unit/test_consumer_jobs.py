"""The pure parts of the consumer's serving-round and retrieval commands: choosing the
spot-checked subset (explicit, random, sized by the planner), the job state file (pending until
the job's id is known, then renamed; adopted on resume), the resumable wait loop, the dev-chain
guard of --warp, the inputs files and the reports."""

from __future__ import annotations

import json
import random
import stat
from types import SimpleNamespace

import numpy as np
import pytest

from zkmarket.consumer import ConsumerError, StateFileError, WaitTimeout
from zkmarket.consumer.answers import AnswerCheck, AnswerReport
from zkmarket.consumer.driver import Wait
from zkmarket.consumer.errors import RevertError
from zkmarket.consumer.jobs import (
    JobRun,
    JobSettlement,
    JobState,
    SpotCheck,
    Stop,
    check_dev_chain,
    find_job_state,
    job_path,
    parse_indices,
    spot_check,
)
from zkmarket.consumer.serving_round import load_inputs
from zkmarket.planner import spot_check_sample_size

pytestmark = pytest.mark.unit

CONTRACT = "0x" + "ab" * 20
ACCOUNT = "0x" + "CD" * 20


# ---------------------------------------------------------------------- the subset


@pytest.mark.parametrize("text,expected", [("1,5", [1, 5]), (" 0, 7 ,3", [0, 7, 3]), ("2,", [2])])
def test_parse_indices_accepts_comma_separated_integers(text, expected):
    assert parse_indices(text) == expected


@pytest.mark.parametrize("text", ["", "a,b", "1,1", "-1", "1.5"])
def test_parse_indices_refuses_anything_else(text):
    with pytest.raises(ConsumerError, match="indices"):
        parse_indices(text)


def test_seeded_random_choice_is_reproducible_and_sorted():
    plan = spot_check(2, None, 7, None, None, total=4)
    assert plan.choose(4) == sorted(random.Random(7).sample(range(4), 2)) == plan.choose(4)
    assert SpotCheck.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_unseeded_random_choice_is_distinct_and_in_range():
    chosen = spot_check(5, None, None, None, None).choose(8)
    assert len(set(chosen)) == 5 and chosen == sorted(chosen) and all(0 <= i < 8 for i in chosen)


def test_explicit_indices_are_checked_against_the_size():
    assert spot_check(None, "3,1", None, None, None, total=4).choose(4) == [1, 3]
    with pytest.raises(ConsumerError, match=r"indices \[4\] are out of range: there are 4 predictions"):
        spot_check(None, "1,4", None, None, None, total=4)
    with pytest.raises(ConsumerError, match="cannot pick 5 random documents of 4"):
        spot_check(5, None, None, None, None, total=4, what="documents")


def test_the_planner_sizes_the_random_sample_and_it_is_capped_at_the_batch():
    n = spot_check_sample_size(0.05, 0.95)
    assert n == 72  # paper Table 3
    plan = spot_check(None, None, 1, 0.95, 0.05, total=1000)
    assert plan.size() == 72 and "planner" in plan.describe()
    capped = spot_check(None, None, 1, 0.95, 0.05, total=10)
    assert capped.size() == 10 and "capped at all 10 predictions" in capped.planned


@pytest.mark.parametrize("args,needle", [
    ((2, "1", None, None, None), "one way"),
    ((2, None, None, 0.95, 0.05), "one way"),
    ((None, None, None, 0.95, None), "go together"),
    ((None, None, None, 1.5, 0.05), "strictly between 0 and 1"),
    ((None, "1", 3, None, None), "--seed"),
    ((-1, None, None, None, None), ">= 0"),
])
def test_subset_options_are_refused_when_ambiguous_or_invalid(args, needle):
    with pytest.raises(ConsumerError, match=needle):
        spot_check(*args)


def test_no_option_means_nothing_contested():
    plan = spot_check(None, None, None, None, None, total=4)
    assert plan.choose(4) == [] and plan.describe() == "nothing"


# ---------------------------------------------------------------------- state file


def fake_client(nonce: int = 5, chain_id: int = 31337, version: str = "anvil/v1.0.0"):
    eth = SimpleNamespace(get_transaction_count=lambda address, block: nonce)
    return SimpleNamespace(address=ACCOUNT, deployment=SimpleNamespace(chain_id=chain_id),
                           w3=SimpleNamespace(eth=eth, client_version=version), chain_time=lambda: 1_000)


def test_pending_state_is_saved_private_then_renamed_to_the_job(tmp_path):
    client = fake_client()
    state = JobState.pending(tmp_path, "round", client, SimpleNamespace(address=CONTRACT), {"inputs": ["00"]})
    assert state.path.name == f"zkmarket-round-pending-{ACCOUNT[:10].lower()}-5.json"
    assert stat.S_IMODE(state.path.stat().st_mode) == 0o600
    state.assign(7)
    assert state.path == job_path(tmp_path, "round", 7) and not list(tmp_path.glob("*pending*"))
    loaded = JobState.load(state.path)
    assert (loaded.kind, loaded.job_id, loaded.data, loaded.account) == ("round", 7, {"inputs": ["00"]}, ACCOUNT)
    loaded.check_belongs(31337, CONTRACT.upper().replace("0X", "0x"), 7)
    with pytest.raises(StateFileError, match="not of round 8"):
        loaded.check_belongs(31337, CONTRACT, 8)


def test_a_pending_state_is_adopted_by_the_job_it_matches(tmp_path):
    client, contract = fake_client(), SimpleNamespace(address=CONTRACT)
    JobState.pending(tmp_path, "round", client, contract, {"inputs_root": "aa"})
    other = JobState.pending(tmp_path, "round", fake_client(nonce=6), contract, {"inputs_root": "bb"})
    found = find_job_state(tmp_path, "round", client, contract, 3, lambda s: s.data["inputs_root"] == "aa")
    assert found is not None and found.job_id == 3 and found.path == job_path(tmp_path, "round", 3)
    assert other.path.is_file()  # the other pending job is left alone
    assert find_job_state(tmp_path, "round", client, contract, 3, lambda s: False).data == {"inputs_root": "aa"}
    assert find_job_state(tmp_path, "retrieval", client, contract, 3, lambda s: True) is None
    JobState.pending(tmp_path, "retrieval", fake_client(nonce=8), contract, {})
    JobState.pending(tmp_path, "retrieval", fake_client(nonce=9), contract, {})
    with pytest.raises(StateFileError, match="several pending state files"):
        find_job_state(tmp_path, "retrieval", client, contract, 4, lambda s: True)


@pytest.mark.parametrize("content,needle", [("{", "not JSON"), ('{"format": "other"}', "not a zkmarket"),
                                            ('{"format": "zkmarket-consumer-job", "version": 1, "kind": "round"}',
                                             "malformed")])
def test_a_bad_state_file_is_named(tmp_path, content, needle):
    p = tmp_path / "zkmarket-round-1.json"
    p.write_text(content)
    with pytest.raises(StateFileError, match=needle):
        JobState.load(p)
    with pytest.raises(StateFileError, match="cannot read"):
        JobState.load(tmp_path / "missing.json")


# ---------------------------------------------------------------------- the loop


class ScriptedRun(JobRun):
    """Phases from a list; each step returns what the script says."""

    NOUN, RESUME = "round", "zkmarket round resume"

    def __init__(self, phases, steps, **kwargs):
        state = JobState(job_path(".", "round", 4), "round", 31337, CONTRACT, ACCOUNT, 4, {})
        self.phases, self.steps, self.made = list(phases), list(steps), []
        now = [0.0]

        def sleep(s):
            now[0] += s

        super().__init__(fake_client(), state, poll=1.0, clock=lambda: now[0], sleep=sleep, **kwargs)

    def phase(self):
        return self.phases[0] if len(self.phases) == 1 else self.phases.pop(0)

    def step(self, current):
        action = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        self.made.append(current)
        if isinstance(action, Exception):
            raise action
        return action

    def settlement(self):
        return JobSettlement(kind="round", job_id=4, state="Settled", token="0x" + "00" * 20, outcome="ContestsAnswered",
                             consumer_payout=3, provider_payout=5)


def test_the_loop_gives_up_after_the_timeout_naming_the_resume_command():
    run = ScriptedRun(["Open"], [Wait("waiting for MP to join", None)], timeout=3)
    with pytest.raises(WaitTimeout, match=r"gave up after 3s waiting for MP to join; round 4 is Open: continue "
                                          r"with `zkmarket round resume 4`"):
        run.run()


def test_the_loop_ends_at_the_settlement_or_on_purpose():
    done = ScriptedRun(["Serving", "Settleable", "Settled"], [None, None])
    result = done.run()
    assert done.made == ["Serving", "Settleable"] and result.lines()[0] == "round 4 settled: ContestsAnswered"
    stopped = ScriptedRun(["Serving"], [Stop("settle later")])
    assert stopped.run() is None and stopped.stopped == "settle later"


def test_a_revert_after_the_other_party_moved_is_read_again_not_raised():
    run = ScriptedRun(["Settleable", "Settled", "Settled"], [RevertError("settle would revert")])
    assert run.run().state == "Settled"
    stuck = ScriptedRun(["Serving"], [RevertError("contest would revert")])
    with pytest.raises(RevertError):
        stuck.run()


def test_warp_is_only_for_a_dev_chain():
    check_dev_chain(fake_client())
    with pytest.raises(ConsumerError, match="--warp moves the clock of a development chain"):
        check_dev_chain(fake_client(chain_id=1, version="Geth/v1.14.0"))


# ---------------------------------------------------------------------- inputs and reports


def test_inputs_come_from_npy_or_json_files(tmp_path):
    array = np.arange(2 * 64, dtype=np.uint8).reshape(2, 8, 8)
    np.save(tmp_path / "x.npy", array)
    assert load_inputs(tmp_path / "x.npy") == [bytes(range(64)), bytes(range(64, 128))]
    (tmp_path / "x.json").write_text(json.dumps(["0102", [[3, 4]]]))
    assert load_inputs(tmp_path / "x.json") == [b"\x01\x02", b"\x03\x04"]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConsumerError, match="cannot read inputs"):
        load_inputs(tmp_path / "bad.json")
    with pytest.raises(ConsumerError, match="--inputs FILE"):
        load_inputs(None, None)
    with pytest.raises(ConsumerError, match="--inputs FILE"):
        load_inputs(tmp_path / "x.json", 3)


def test_answer_report_names_invalid_and_missing_proofs():
    report = AnswerReport("round 2", "0xVERIFIER", [1, 3, 5])
    report.checks[1] = AnswerCheck(1, 7, "0xaa")
    report.checks[3] = AnswerCheck(3, 2, "0xbb", "the verifier 0xVERIFIER rejects it (eth_call)")
    assert report.valid == 1 and report.missing == [5]
    assert report.summary().endswith("1 valid, 1 INVALID, 1 contested index(es) unanswered [5]")
    assert report.refusal("settle round 2") == ("refusing to settle round 2: proof of index 3 (tx 0xbb): the "
                                                "verifier 0xVERIFIER rejects it (eth_call)")


def test_settlement_lines_show_both_payouts_or_the_refund():
    token = "0x" + "00" * 20
    assert JobSettlement(kind="request", job_id=1, state="Cancelled", token=token, refund=10**15).lines() == [
        "request 1 cancelled (MP never joined): the escrow of 0.001 ETH was credited back"]
    assert JobSettlement(kind="round", job_id=1, state="Settled", token=token, outcome="ContestsAnswered",
                         consumer_payout=4 * 10**14, provider_payout=16 * 10**14).lines() == [
        "round 1 settled: ContestsAnswered", "  consumer (MC) credited 0.0004 ETH",
        "  provider (MP) credited 0.0016 ETH"]
