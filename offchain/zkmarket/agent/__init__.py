"""zkmarket.agent: the provider's long-running process (watch the chain, join audits, check and
acknowledge data, prove, submit, get paid), restartable at any point from its SQLite state."""
