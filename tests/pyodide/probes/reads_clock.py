"""Breaks the import-time rules on purpose: reads the clock at import."""
import time

STARTED = time.time()
