"""Patent identifiers and rules: application numbers, IPC symbols, terms."""
