"""Declarations, licenses, fees, royalties and mediation (built on marketplace)."""
