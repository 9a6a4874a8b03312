"""zkmarket: trustless ML inference marketplace (halo2 proofs, Solidity escrow).

Its packages form layers; each imports only from layers below it (tests/unit/test_layers.py
checks this):

0. prover (the native circuit: proving, and the input commitment its Poseidon defines), crypto,
   model, store, planner, files, cli_params: leaves that import nothing else of zkmarket;
1. protocol: the rules both parties compute identically (leaves, subsets, payouts), no I/O;
2. chain (nodes, compiler, verifier deployment), then 3. market (the deployment and its contracts);
4. participants: each protocol's moves, one class per party, over a MarketConnection;
5. provider_api: the wire format and clients of a provider agent's HTTP API;
6. agent (the provider's loop and HTTP server) and consumer (the consumer's CLI flows), which
   never import each other;
7. cli and demo.
"""
