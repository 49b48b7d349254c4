"""Follows the rules: stdlib only, decides at call time."""
import time


def late(now=None):
    return time.time() if now is None else now
