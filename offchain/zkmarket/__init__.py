"""zkmarket: trustless ML inference marketplace (halo2 proofs, Solidity escrow).

Its packages form layers; each imports only from layers below it (tests/unit/test_layers.py
checks this):

0. cli_params, files: click helpers and file reading, importing nothing else of zkmarket;
1. prover (the native circuit: proving, and the input commitment its Poseidon defines), crypto,
   model, store, planner;
2. protocol: the rules both parties compute identically (leaves, subsets, payouts), no I/O;
3. chain (nodes, compiler, verifier deployment), then 4. market (the deployment, its contracts
   and the settings every role shares);
5. participants: each protocol's moves, one class per party, over a MarketConnection;
6. provider_api: the wire format and clients of a provider agent's HTTP API;
7. agent (the provider's loop and HTTP server) and consumer (the consumer's CLI flows), which
   never import each other;
8. cli and demo.
"""
