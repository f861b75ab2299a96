"""A real text corpus that every machine has: the Python standard library's own source.

The corpus is the top-level ``*.py`` files of ``sysconfig.get_paths()["stdlib"]`` in sorted
order (a deterministic subset; a few MB).  Files are split into a training part and a
held-out part by position in that order (every ``holdout_every``-th file is held out), so
the target and draft models never see the prompts they are asked to continue.

Tokenisation is a simple deterministic regex: identifiers/numbers (``\\w+``), runs of
whitespace (newline plus indentation is one token, which makes code structure
predictable), and single punctuation characters.  Token strings are mapped to ids by
decreasing training frequency (ties broken by the string), the rarest beyond
``vocab_size - 1`` map to ``<unk>`` (id 0).
"""

from __future__ import annotations

import re
import sysconfig
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specaccel.schema.errors import InputError

UNK = "<unk>"
TOKEN_PATTERN = re.compile(r"\w+|\s+|[^\w\s]")


def stdlib_dir() -> Path:
    """The folder of the running interpreter's standard library sources."""
    return Path(sysconfig.get_paths()["stdlib"])


def corpus_files(root: Path | None = None, max_files: int | None = None) -> list[Path]:
    """Sorted top-level ``*.py`` files of `root` (default: the stdlib), at most `max_files`.

    Raises
    ------
    InputError
        If the folder holds no Python files.
    """
    root = stdlib_dir() if root is None else Path(root)
    files = sorted(p for p in root.glob("*.py") if p.is_file())
    if not files:
        raise InputError("no *.py files to build a corpus from", file=str(root))
    return files[:max_files] if max_files is not None else files


def split_tokens(text: str) -> list[str]:
    """Split text into token strings (words, whitespace runs, punctuation)."""
    return TOKEN_PATTERN.findall(text)


@dataclass(frozen=True)
class Vocabulary:
    """Token strings ↔ ids; id 0 is ``<unk>``."""

    tokens: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    @property
    def size(self) -> int:
        return len(self.tokens)

    @classmethod
    def from_counts(cls, counts: Counter[str], vocab_size: int) -> Vocabulary:
        """The `vocab_size` − 1 most frequent strings (ties by string) after ``<unk>``."""
        if vocab_size < 2:
            raise InputError(f"must be >= 2, not {vocab_size}", field="vocab_size")
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return cls((UNK,) + tuple(t for t, _ in ranked[: vocab_size - 1]))

    def encode(self, strings: list[str]) -> np.ndarray:
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        return np.fromiter((index.get(s, 0) for s in strings), dtype=np.int64,
                           count=len(strings))

    def decode(self, ids: np.ndarray | list[int]) -> str:
        return "".join(self.tokens[int(i)] for i in ids)


@dataclass(frozen=True)
class Document:
    """One source file as token ids."""

    name: str
    ids: np.ndarray


@dataclass(frozen=True)
class Corpus:
    """A tokenised corpus with a train/held-out split by file."""

    vocab: Vocabulary
    train: tuple[Document, ...]
    heldout: tuple[Document, ...]

    def train_ids(self) -> list[np.ndarray]:
        return [d.ids for d in self.train]

    @property
    def n_train_tokens(self) -> int:
        return int(sum(d.ids.shape[0] for d in self.train))


def load_corpus(
    root: Path | None = None,
    *,
    max_files: int | None = None,
    vocab_size: int = 4096,
    holdout_every: int = 10,
) -> Corpus:
    """Read, tokenise and split the corpus (deterministic for a given folder).

    Parameters
    ----------
    root:
        Folder of ``*.py`` files; default the running interpreter's stdlib.
    max_files:
        Use only the first files in sorted order (smaller, faster models).
    vocab_size:
        Ids including ``<unk>``.
    holdout_every:
        File ``i`` (in sorted order) is held out when ``i % holdout_every ==
        holdout_every - 1``.
    """
    if holdout_every < 2:
        raise InputError(f"must be >= 2, not {holdout_every}", field="holdout_every")
    files = corpus_files(root, max_files)
    texts = [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in files]
    split = [split_tokens(t) for _, t in texts]
    is_held = [i % holdout_every == holdout_every - 1 for i in range(len(files))]
    counts: Counter[str] = Counter()
    for toks, held in zip(split, is_held, strict=True):
        if not held:
            counts.update(toks)
    vocab = Vocabulary.from_counts(counts, vocab_size)
    docs = [Document(name, vocab.encode(toks)) for (name, _), toks in zip(texts, split,
                                                                           strict=True)]
    return Corpus(
        vocab=vocab,
        train=tuple(d for d, h in zip(docs, is_held, strict=True) if not h),
        heldout=tuple(d for d, h in zip(docs, is_held, strict=True) if h),
    )


def heldout_prompts(corpus: Corpus, n_prompts: int, prompt_len: int,
                    seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """`n_prompts` snippets of `prompt_len` tokens from held-out files, named ``file@offset``.

    Snippets are spread over the held-out files round-robin; offsets are drawn with a
    fixed-seed generator.
    """
    docs = [d for d in corpus.heldout if d.ids.shape[0] > prompt_len + 1]
    if not docs:
        raise InputError(f"no held-out file is longer than {prompt_len} tokens",
                         field="prompt_len")
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_prompts):
        d = docs[k % len(docs)]
        start = int(rng.integers(0, d.ids.shape[0] - prompt_len))
        out.append((f"{d.name}@{start}", d.ids[start:start + prompt_len].copy()))
    return out
