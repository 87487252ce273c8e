"""CLIP's byte-pair tokenizer without torch: the token ids of open_clip's ``SimpleTokenizer``.

open_clip's tokenizer module imports torch (it returns tensors), which costs 3 s before a text
query can start; this one returns NumPy arrays and imports only ``regex`` (for the Unicode
classes of CLIP's split pattern) and, for text that needs it, ``ftfy``. The vocabulary is the
``bpe_simple_vocab_16e6.txt.gz`` that open_clip ships; the ONNX export copies it beside the
graphs. tests/unit/test_tokenizer.py checks the ids against open_clip's on many strings.
"""

from __future__ import annotations

import gzip
import html
import string
from functools import lru_cache
from pathlib import Path

import numpy as np

VOCAB_FILE = "bpe_simple_vocab_16e6.txt.gz"
MERGES_FILE = "clip-merges.txt"  # the part of the vocabulary CLIP uses, uncompressed (write_merges)
_MERGES = 49152 - 256 - 2  # open_clip uses the first merges of the file, no more
_SPECIAL = ("<start_of_text>", "<end_of_text>")
_NEVER = 1 << 62  # the rank of a pair that never merges
CLEAN_KINDS = ("lower", "whitespace", "canonicalize")
# Printable ASCII without '&' (HTML entities): ftfy leaves such text as it is (every fix it
# makes needs a control character, an entity or a non-ASCII character), so it is not imported
# (0.2 s) for an everyday query.
_PLAIN = frozenset(chr(c) for c in range(0x20, 0x7F)) - {"&"}


def write_merges(vocab_file: Path, out: Path) -> None:
    """The lines of ``vocab_file`` CLIP uses, uncompressed: 0.5 MB that a query reads in a few
    milliseconds, where the whole compressed file (262,000 lines) took 0.1-0.3 s."""
    with gzip.open(vocab_file, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")[: _MERGES + 1]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def open_clip_vocab_file() -> Path | None:
    """The vocabulary inside the installed open_clip package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / VOCAB_FILE
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=1)
def _byte_symbols() -> dict[int, str]:
    """Each byte as a printable character (GPT-2's reversible table): the visible bytes stand for
    themselves, the others are moved past U+00FF in order."""
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in visible}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _fix_text(text: str) -> str:
    if not all(c in _PLAIN for c in text):
        import ftfy

        text = ftfy.fix_text(text)
    return html.unescape(html.unescape(text)).strip()


def _clean(text: str, kind: str) -> str:
    text = _fix_text(text)
    if kind == "canonicalize":
        text = text.replace("_", " ").translate(str.maketrans("", "", string.punctuation)).lower()
        return " ".join(text.split()).strip()
    text = " ".join(text.split()).strip()
    return text.lower() if kind == "lower" else text


class ClipTokenizer:
    """Text -> int64 token ids (N, context_length): start token, BPE ids, end token, zero padding;
    text longer than the context is cut and ends with the end token."""

    def __init__(self, vocab_file: Path, context_length: int = 77, clean: str = "lower") -> None:
        import regex

        if clean not in CLEAN_KINDS:
            raise ValueError(f"unknown text cleaning '{clean}'")
        self.context_length = context_length
        self.clean = clean
        opener = gzip.open if vocab_file.suffix == ".gz" else open
        with opener(vocab_file, "rt", encoding="utf-8") as fh:
            merges = fh.read().split("\n")[1 : _MERGES + 1]  # "first second", ranked by line
        symbols = list(_byte_symbols().values())
        vocab = symbols + [s + "</w>" for s in symbols] + [m.replace(" ", "") for m in merges] + list(_SPECIAL)
        # Pairs are looked up as "first second", the file's own lines: splitting 49k lines into
        # tuples took longer than the text tower's inference.
        self._ids = dict(zip(vocab, range(len(vocab)), strict=True))
        self._rank = dict(zip(merges, range(len(merges)), strict=True))
        self._words: dict[str, list[int]] = {}
        self.start_id, self.end_id = self._ids[_SPECIAL[0]], self._ids[_SPECIAL[1]]
        self._split = regex.compile(
            "|".join(regex.escape(s) for s in _SPECIAL) + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
            regex.IGNORECASE,
        )

    def _word_ids(self, word: str) -> list[int]:
        """BPE of one pre-split word (already mapped to byte symbols): merge the adjacent pair of
        lowest rank until no pair can merge."""
        cached = self._words.get(word)
        if cached is not None:
            return cached
        if word in _SPECIAL:
            ids = [self._ids[word]]
        else:
            parts = [*word[:-1], word[-1] + "</w>"]
            while len(parts) > 1:
                pairs = [f"{a} {b}" for a, b in zip(parts, parts[1:], strict=False)]
                best = min(pairs, key=lambda p: self._rank.get(p, _NEVER))
                if best not in self._rank:
                    break
                pair = tuple(best.split(" "))
                merged: list[str] = []
                i = 0
                while i < len(parts):  # every occurrence of the pair, left to right
                    if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                        merged.append(parts[i] + parts[i + 1])
                        i += 2
                    else:
                        merged.append(parts[i])
                        i += 1
                parts = merged
            ids = [self._ids[p] for p in parts]
        self._words[word] = ids
        return ids

    def encode(self, text: str) -> list[int]:
        """The BPE ids of ``text``, without start and end tokens."""
        symbols = _byte_symbols()
        ids: list[int] = []
        for piece in self._split.findall(_clean(text, self.clean)):
            ids.extend(self._word_ids("".join(symbols[b] for b in piece.encode("utf-8"))))
        return ids

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start_id, *self.encode(text), self.end_id]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self.end_id
            out[row, : len(ids)] = ids
        return out
