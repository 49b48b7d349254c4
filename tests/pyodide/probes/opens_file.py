"""Breaks the import-time rules on purpose: reads a file at import."""
import os

with open(os.path.join(os.path.dirname(__file__), "clean.py"), encoding="utf-8") as fh:
    SOURCE = fh.read()
