"""Payable runtime: the state machine (storage, state root, extrinsics, fees, executive, pallets)."""
