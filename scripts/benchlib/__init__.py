"""Modules of scripts/bench (see its docstring)."""
