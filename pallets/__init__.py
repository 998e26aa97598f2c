"""Payable's own pallets; each subpackage is one pallet, registered in the `payable.pallets` entry points."""
