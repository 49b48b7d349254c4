"""Breaks the pure-core rule on purpose: a compiled package Pyodide cannot load here."""
import pydantic  # noqa: F401
