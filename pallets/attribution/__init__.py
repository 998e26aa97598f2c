"""Proof of Attribution on chain (in progress): for now the exact fee split the pallet will settle with."""
