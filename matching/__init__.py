"""The supply-demand matching engine (built on marketplace, may read licensing)."""
