"""zkmarket.participants: what each party does at each protocol step, over deployed contracts
(the provider agent and the consumer CLI drive these; tests drive them directly)."""
