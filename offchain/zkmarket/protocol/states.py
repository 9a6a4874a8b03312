"""The contracts' enums by name, in declaration order (the chain returns an enum as its index):
lib/Types.sol and the interfaces. One list per Solidity enum, used by every party."""

from __future__ import annotations

# IGriefingResistantAudit (the appendix-B audit).
GUARDED_STATES = ["None", "Open", "JoinExpired", "AwaitingSubset", "SubsetExpired", "SendingSubset", "Deciding",
                  "DecisionExpired", "AwaitingRest", "RestExpired", "SendingRest", "Proving", "Finalizable",
                  "Settled", "Cancelled"]
GUARDED_OUTCOMES = ["Aborted", "Passed", "Failed", "ConsumerDefaulted"]
# IDataTransfer.
TRANSFER_STATES = ["None", "AwaitingAck", "AckExpired", "AwaitingKey", "KeyExpired", "Contestable", "Contesting",
                   "ContestExpired", "Resolved"]
TRANSFER_OUTCOMES = ["None", "Completed", "ReceiverNoAck", "SenderNoReveal", "SenderCheated", "ContestRejected",
                     "ReceiverNoContinue", "SenderUndelivered"]
# IAccuracyAudit (the simple audit).
AUDIT_STATES = ["None", "Open", "JoinExpired", "Deciding", "DecisionExpired", "Proving", "Finalizable", "Settled",
                "Cancelled"]
AUDIT_OUTCOMES = ["Aborted", "Passed", "Failed"]
# Types.sol: ModelRegistry's models and ServingRound.
MODEL_STATUSES = ["None", "Active", "Unbonding", "Withdrawn"]
ROUND_STATES = ["None", "Open", "JoinExpired", "Serving", "AwaitingAnswers", "Settleable", "Settled", "Cancelled"]
ROUND_OUTCOMES = ["NoPredictions", "Uncontested", "ContestsAnswered", "ContestsUnanswered"]
# IRetrieval.
REQUEST_STATES = ["None", "Open", "JoinExpired", "Responding", "Challenging", "AwaitingAnswers", "Settleable",
                  "Settled", "Cancelled"]
RETRIEVAL_OUTCOMES = ["NoResults", "Unchallenged", "ChallengesAnswered", "ChallengesUnanswered"]
