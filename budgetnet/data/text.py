"""Text as data: a character-level corpus split by position, for next-token models.

`--data` names it: `tinyshakespeare` (the embedded corpus, budgetnet/data/tinyshakespeare,
verified by its checksum; the default of every text spec) or a UTF-8 `.txt` file of one's own.
The vocabulary is the sorted set of the corpus's characters (every split is encodable); the
splits are fixed by position: the first 90% trains, the next 5% validates, the last 5% tests.
The fingerprint (SHA-256 of the file's bytes) is what eval and sample compare.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import torch

from budgetnet.errors import DataError

EMBEDDED_TEXT = Path(__file__).parent / "tinyshakespeare" / "input.txt"
TINYSHAKESPEARE = "tinyshakespeare"
SPLITS = (0.90, 0.05, 0.05)  # train, validation, test: consecutive, by position
MAX_TEXT_BYTES = 256 << 20


@dataclass(frozen=True)
class TextFacts:
    """What a text run records about its data; `fingerprint` is what eval and sample compare."""
    name: str
    ref: str                    # "tinyshakespeare" or an absolute path
    vocab: str                  # the symbols, in id order
    chars: int                  # characters in the corpus
    train_chars: int
    val_chars: int
    test_chars: int
    fingerprint: str
    kind: str = "text"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TextData:
    train: torch.Tensor         # int64 ids
    val: torch.Tensor
    test: torch.Tensor
    facts: TextFacts

    @property
    def vocab(self) -> int:
        return len(self.facts.vocab)

    @property
    def name(self) -> str:
        return self.facts.name

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.facts.vocab)}
        unknown = sorted({c for c in text if c not in index})
        if unknown:
            raise DataError(f"{text[:40]!r}: characters not in the vocabulary of {self.name}: {''.join(unknown)!r}")
        return torch.tensor([index[c] for c in text], dtype=torch.int64)

    def refuse_mismatch(self, source: str, tokens: int, vocab: int) -> None:
        """One line when a text spec does not fit this corpus: another vocabulary size, or a
        context longer than a split (a window needs tokens + 1 characters)."""
        if vocab != self.vocab:
            raise DataError(f"{source}: the spec's vocabulary is {vocab} symbols, {self.name} has {self.vocab}")
        shortest = min(len(self.train), len(self.val), len(self.test))
        if tokens + 1 > shortest:
            raise DataError(f"{source}: context {tokens} tokens is longer than {self.name}'s smallest split "
                            f"({shortest:,} characters; a window needs {tokens + 1})")


def is_text(data: str | Path | None) -> bool:
    """Whether `--data` names text: the embedded corpus or a .txt file."""
    return data is not None and (str(data) == TINYSHAKESPEARE or str(data).lower().endswith(".txt"))


def load_text(data: str | Path | None = None) -> TextData:
    """The splits of the corpus `data` names (None: the embedded tinyshakespeare)."""
    if data is None or str(data) == TINYSHAKESPEARE:
        return _cached(TINYSHAKESPEARE, ())
    path = Path(data).expanduser()
    if not path.is_file():
        raise DataError(f"{data}: not found; --data takes {TINYSHAKESPEARE} or a UTF-8 .txt file for a text spec")
    st = path.stat()
    return _cached(str(path.resolve()), (st.st_size, st.st_mtime_ns))


@lru_cache(maxsize=2)
def _cached(ref: str, signature: tuple) -> TextData:
    path = EMBEDDED_TEXT if ref == TINYSHAKESPEARE else Path(ref)
    if path.stat().st_size > MAX_TEXT_BYTES:
        raise DataError(f"{path}: larger than {MAX_TEXT_BYTES >> 20} MiB; budgetnet reads character corpora that fit in memory")
    raw = path.read_bytes()
    if ref == TINYSHAKESPEARE:
        _verify(raw)
    if not raw.strip():
        raise DataError(f"{path}: empty text file")
    if b"\x00" in raw:
        raise DataError(f"{path}: binary data (NUL bytes); a text corpus is UTF-8 text")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start}); a text corpus is UTF-8 text") from None
    vocab = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    n_train, n_val = int(len(ids) * SPLITS[0]), int(len(ids) * SPLITS[1])
    train, val, test = ids[:n_train], ids[n_train:n_train + n_val], ids[n_train + n_val:]
    if min(len(train), len(val), len(test)) < 2:
        raise DataError(f"{path}: {len(text):,} characters are too few to split 90/5/5 into windows")
    name = "the embedded tinyshakespeare" if ref == TINYSHAKESPEARE else f"the text in {ref}"
    facts = TextFacts(name, ref, vocab, len(ids), len(train), len(val), len(test), hashlib.sha256(raw).hexdigest())
    return TextData(train, val, test, facts)


def _verify(raw: bytes) -> None:
    expected = (EMBEDDED_TEXT.parent / "SHA256SUMS").read_text().split()[0]
    if hashlib.sha256(raw).hexdigest() != expected:
        raise DataError(f"{EMBEDDED_TEXT}: checksum mismatch; the installed package is damaged, reinstall it")
