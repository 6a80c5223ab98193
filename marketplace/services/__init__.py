"""Writes of the core app: one function per action, keyword-only, atomic, recording the actor."""
