"""Kept for code written against the old stand-ins: the runtime's Python surface now
comes from the real SDK (workers-runtime-sdk) over the local runtime (devhost/runtime)."""

from __future__ import annotations

from pathlib import Path

from .runtime import import_entry as _import_entry
from .runtime import sdk

_workers = sdk()
WorkerEntrypoint = _workers.WorkerEntrypoint
DurableObject = _workers.DurableObject
WorkflowEntrypoint = _workers.WorkflowEntrypoint
NonRetryableError = _workers.workflows.NonRetryableError


def import_entry(root: Path):
    """Imports src/entry.py with the real SDK; returns the module."""
    return _import_entry(root)
