"""Breaks the import-time rules on purpose: draws randomness at import."""
import random
import secrets

TOKEN = secrets.token_hex(4)
PICK = random.random()
