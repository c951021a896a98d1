"""Chapter 01 numbers: n-gram losses on Shakespeare val and names dev/test, and the speed and
memory of fitting a 6-gram Kneser-Ney on Shakespeare train and scoring all of val.

``python -m coursekit.bench ngram``
"""

from __future__ import annotations

import math
import statistics
import tracemalloc
from collections import Counter

from coursekit.bench import Measurement, peak_memory_mb, stopwatch
from lmlib.data import names, names_stream, shakespeare
from lmlib.ngram import NGramLM
from lmlib.scoring import score


def dict_kneser_ney_loss(train: str, val: str, order: int = 6, D: float = 0.75) -> float:
    """The same interpolated Kneser-Ney with plain Python dicts of strings: the baseline that
    the vectorised version is timed against (and a cross-check of its loss)."""
    counts = [Counter(train[i:i + m] for i in range(len(train) - m + 1))
              for m in range(1, order + 1)]
    tables = [Counter(g[1:] for g in counts[m]) for m in range(1, order)] + [counts[-1]]
    stats = []                                   # per order: context -> (total, distinct next)
    for table in tables:
        s = {}
        for g, c in table.items():
            total, types = s.get(g[:-1], (0, 0))
            s[g[:-1]] = (total + c, types + 1)
        stats.append(s)
    V, nll = len(set(train)), 0.0
    for t in range(order - 1, len(val)):
        p = 1.0 / V
        for m in range(1, order + 1):
            h, w = val[t - m + 1:t], val[t]
            total, types = stats[m - 1].get(h, (0, 0))
            if total:
                p = (max(tables[m - 1].get(h + w, 0) - D, 0) + D * types * p) / total
        nll -= math.log(p)
    return nll / (len(val) - order + 1)


def _fit_and_score(train, val, vocab_size, order=6):
    return score(NGramLM(order, "kneser-ney").fit(train, vocab_size), val)


def run() -> list[Measurement]:
    tok, train, val = shakespeare()
    V = tok.vocab_size
    out = []

    # speed first, while the process is still small: median of 5 runs
    times = []
    for _ in range(5):
        with stopwatch() as t:
            _fit_and_score(train, val, V)
        times.append(t())
    out.append(Measurement("shakespeare 6-gram KN fit+score val", statistics.median(times),
                           "s", "<= 5", f"median of 5: {', '.join(f'{x:.2f}' for x in times)}"))
    text = tok.decode(train), tok.decode(val)
    with stopwatch() as t:
        dict_loss = dict_kneser_ney_loss(*text)
    out.append(Measurement("shakespeare 6-gram KN, Python dicts", t(), "s", "",
                           f"one run, for comparison; its val loss {dict_loss:.4f}"))
    tracemalloc.start()
    _fit_and_score(train, val, V)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    out.append(Measurement("shakespeare 6-gram KN peak memory", peak / 2**20, "MiB", "",
                           f"tracemalloc peak of fit+score; process peak RSS so far "
                           f"{peak_memory_mb():.0f} MiB"))

    def val_loss(name, lm, target=""):
        lm.fit(train, V)
        out.append(Measurement(f"shakespeare val {name}", score(lm, val), "nats/char",
                               target, f"{lm.num_ngrams:,} n-grams, {lm.nbytes / 1e6:.1f} MB"))

    val_loss("bigram add-1", NGramLM(2, "add-k", k=1.0), "2.48 +- 0.01")
    val_loss("5-gram add-k k=0.01", NGramLM(5, "add-k", k=0.01), "~1.770")
    grid = {k: score(NGramLM(5, "add-k", k=k).fit(train, V), val)
            for k in (0.3, 0.1, 0.03, 0.01, 0.003)}
    best_k = min(grid, key=grid.get)
    out.append(Measurement("shakespeare val 5-gram add-k, best k", grid[best_k], "nats/char", "",
                           f"k = {best_k} on the grid {sorted(grid)} (picked on val)"))
    for order in range(3, 8):
        val_loss(f"{order}-gram KN D=0.75", NGramLM(order, "kneser-ney"),
                 "<= 1.54" if order == 6 else "")
    for order in range(3, 8):
        val_loss(f"{order}-gram modified KN", NGramLM(order, "modified-kneser-ney"),
                 "< KN" if order >= 5 else "")

    ntok, words_train, words_dev, words_test = names()

    def names_lm(order, smoothing, **kwargs):  # counted on names padded as they are scored
        stream = names_stream(words_train, ntok, pad=order - 1)
        return NGramLM(order, smoothing, **kwargs).fit(stream, ntok.vocab_size)

    for smoothing, kwargs in [("add-k", dict(k=1.0)), ("kneser-ney", {})]:
        lm = names_lm(2, smoothing, **kwargs)
        label = "add-1" if smoothing == "add-k" else "KN"
        for split, words in (("dev", words_dev), ("test", words_test)):
            out.append(Measurement(f"names {split} bigram {label}", score(lm, (words, ntok)),
                                   "nats/char", "~2.45"))
    for order in (3, 4, 5):
        lm = names_lm(order, "modified-kneser-ney")
        for split, words in (("dev", words_dev), ("test", words_test)):
            out.append(Measurement(f"names {split} {order}-gram modified KN",
                                   score(lm, (words, ntok)), "nats/char"))
    return out
