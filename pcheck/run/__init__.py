"""Step 2 and the owner of a run: session (inputs -> store -> distributor -> output), the ledger
(one result per occurrence), hosts (per-host policy), and the two distributors (pool + worker, ray)."""
