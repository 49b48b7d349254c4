"""Token counting for budgets and prompt building: one deterministic estimate, used for
every provider and every check, so a budget means the same thing on every turn.

The estimate splits text into words and single punctuation marks; a word counts one
token per started four characters (BPE vocabularies such as Llama 3's average about four
characters of English per token, and split long or rare words further), a mark counts
one. Each chat message adds a fixed overhead for its role framing. It over-counts
ordinary English slightly, which keeps a budget on the safe side."""

from __future__ import annotations

import re

_PIECE = re.compile(r"\w+|[^\w\s]", re.UNICODE)
_WORD = re.compile(r"\w+", re.UNICODE)
_MARK = re.compile(r"[^\w\s]", re.UNICODE)
MESSAGE_OVERHEAD = 4  # role header and separators of one chat message


def _word_cost(word: str) -> int:
    return (len(word) + 3) // 4


def count_tokens(text: str) -> int:
    if not text:
        return 0
    return sum(map(_word_cost, _WORD.findall(text))) + len(_MARK.findall(text))


def message_tokens(message: dict) -> int:
    return MESSAGE_OVERHEAD + count_tokens(str(message.get("content", "")))


def prompt_tokens(messages: list[dict]) -> int:
    return sum(message_tokens(m) for m in messages)


def truncate_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut at a piece boundary) that counts <= limit."""
    if limit <= 0:
        return ""
    total = 0
    end = 0
    for match in _PIECE.finditer(text or ""):
        piece = match.group()
        cost = (len(piece) + 3) // 4 if piece[0].isalnum() or piece[0] == "_" else 1
        if total + cost > limit:
            break
        total += cost
        end = match.end()
    return text[:end]
