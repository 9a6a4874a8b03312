"""The participants' error root: what a counterparty sent (a delivery, inputs, results, a test
set) or what the chain says does not allow the move."""


class ParticipantError(ValueError):
    """Raised on purpose by zkmarket.participants (DeliveryError, ServingError, RetrievalError)."""
