"""The torch-free CLIP tokenizer gives open_clip's token ids (the text graphs were traced with
those), on everyday, Unicode, messy and over-long text, for every text cleaning open_clip has."""

from __future__ import annotations

import random

import numpy as np
import pytest

from photosearch_desktop.engine.models.tokenizer import CLEAN_KINDS, ClipTokenizer, open_clip_vocab_file

open_clip_tokenizer = pytest.importorskip("open_clip.tokenizer")

FIXED = [
    "a dog on a beach",
    "",
    "   ",
    "Two children playing in the SNOW at dusk.",
    "Ünïcödé café naïve — “curly quotes” and ’apostrophes’",
    "日本語のテキスト 東京タワーの夜景",
    "Привет, мир! Ελληνικά. עברית. العربية",
    "emoji 🐶🏖️👨‍👩‍👧 and flags 🇫🇷",
    "&amp; &lt;b&gt; <i>x</i> &amp;amp; &#39;",
    "I'm sure you'll see they'd WE'RE it's",
    "x" * 500,
    " ".join(["word"] * 100),
    " ".join(f"token{i}" for i in range(200)),
    "tab\tnew\nline\r\ncarriage",
    "\x1b[31mred\x1b[0m terminal colours",
    "control\x00\x07chars\x7f",
    "ﬁne ligatures and Ｆｕｌｌｗｉｄｔｈ letters",
    "Ã©tÃ© mojibake",
    "<start_of_text> hi <end_of_text>",
    "snake_case, punctuation!? (brackets) [more] {braces}",
    "12345 67.89 3/4 ½ ⅓ ²",
    "a photo of a 🐱" * 30,
]


def _random_texts(n: int) -> list[str]:
    rng = random.Random(1234)
    alphabet = [chr(c) for c in range(32, 0x3100) if chr(c).isprintable()] + list("&;<>\t\n'")
    words = ["cat", "sunset", "the", "mountain", "bicycle", "Straße", "naïve", "东京", "x"]
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))))
        else:
            out.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 120))))
    return out


@pytest.fixture(scope="module")
def vocab():  # type: ignore[no-untyped-def]
    path = open_clip_vocab_file()
    assert path is not None and path.is_file(), "open_clip ships its vocabulary"
    return path


@pytest.mark.parametrize("clean", CLEAN_KINDS)
def test_token_ids_equal_open_clips(vocab, clean: str) -> None:  # type: ignore[no-untyped-def]
    texts = FIXED + _random_texts(600)
    theirs = open_clip_tokenizer.SimpleTokenizer(clean=clean)(texts).numpy()
    ours = ClipTokenizer(vocab, 77, clean)(texts)
    assert ours.dtype == np.int64 and ours.shape == theirs.shape == (len(texts), 77)
    different = [t for t, a, b in zip(texts, ours, theirs, strict=True) if not np.array_equal(a, b)]
    assert not different, f"{len(different)} texts tokenized differently, e.g. {different[:3]!r}"


def test_long_text_is_cut_to_the_context_and_ends_with_the_end_token(vocab) -> None:  # type: ignore[no-untyped-def]
    tok = ClipTokenizer(vocab, context_length=16)
    ids = tok(["word " * 50, "a cat"])
    assert ids.shape == (2, 16)
    assert ids[0, 0] == tok.start_id and ids[0, -1] == tok.end_id and (ids[0] != 0).all()
    assert ids[1, 0] == tok.start_id and ids[1, 3] == tok.end_id and (ids[1, 4:] == 0).all()
    theirs = open_clip_tokenizer.SimpleTokenizer(context_length=16)(["word " * 50, "a cat"]).numpy()
    assert np.array_equal(ids, theirs)


def test_vocabulary_is_found_without_importing_open_clip() -> None:
    import subprocess
    import sys

    from childproc import child_env

    env = child_env()
    code = (
        "import sys; from photosearch_desktop.engine.models.tokenizer import open_clip_vocab_file; "
        "p = open_clip_vocab_file(); print(p is not None and p.is_file(), 'open_clip' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout.split()
    assert out == ["True", "False", "False"]
