"""Wrong answers to chapter 00's exercises."""

from mutants import Mutant

PERPLEXITY, ENTROPY, UNIGRAM, BITS = "4479f709", "b6763044", "b749e6f6", "7d95e384"

MUTANTS = [
    # Exercise 1: perplexity
    Mutant("perplexity: mean of probabilities instead of logs", cell=PERPLEXITY,
           replace=[("np.exp(-np.mean(logprobs))", "1 / np.mean(np.exp(logprobs))")],
           expect="geometric mean"),
    Mutant("perplexity: sum instead of mean", cell=PERPLEXITY,
           replace=[("np.mean(logprobs)", "np.sum(logprobs)")], expect="perplexity 2"),
    Mutant("perplexity: base 2", cell=PERPLEXITY,
           replace=[("np.exp(-np.mean(logprobs))", "2 ** (-np.mean(logprobs))")],
           expect="perplexity"),
    Mutant("perplexity: the loss instead of its exponential", cell=PERPLEXITY,
           replace=[("np.exp(-np.mean(logprobs))", "-np.mean(logprobs)")],
           expect="perplexity 2"),
    # Exercise 2: entropy
    Mutant("entropy: natural log (nats, not bits)", cell=ENTROPY,
           replace=[("np.log2(nonzero)", "np.log(nonzero)")], expect="1 bit"),
    Mutant("entropy: 0 log 0 not dropped (nan)", cell=ENTROPY,
           replace=[("nonzero = p[p > 0]", "nonzero = p")], expect="0 log 0"),
    Mutant("entropy: mean surprisal, not weighted by p", cell=ENTROPY,
           replace=[("(nonzero * np.log2(nonzero)).sum()", "np.log2(nonzero).mean()")],
           expect="weight each surprisal"),
    Mutant("entropy: sign flipped", cell=ENTROPY,
           replace=[("-(nonzero * np.log2(nonzero)).sum()", "(nonzero * np.log2(nonzero)).sum()")],
           expect="fair coin"),
    # Exercise 3: add-k unigram
    Mutant("unigram: denominator N + k instead of N + kV", cell=UNIGRAM,
           replace=[("counts.sum() + k * vocab_size", "counts.sum() + k")],
           expect="(count + k) / (N + kV)"),
    Mutant("unigram: k ignored (always add-1)", cell=UNIGRAM,
           replace=[("(counts + k) / (counts.sum() + k * vocab_size)",
                     "(counts + 1) / (counts.sum() + vocab_size)")],
           expect="use the k you are given"),
    Mutant("unigram: no minlength, so unseen top ids are missing", cell=UNIGRAM,
           replace=[("np.bincount(ids, minlength=vocab_size)", "np.bincount(ids)")],
           expect="one probability per vocabulary entry"),
    Mutant("unigram: k added only to seen tokens", cell=UNIGRAM,
           replace=[("(counts + k) / (counts.sum() + k * vocab_size)",
                     "np.where(counts > 0, counts + k, 0) / (counts.sum() + k * (counts > 0).sum())")],
           expect="(count + k) / (N + kV)"),
    # Exercise 4: bits per character
    Mutant("bits: k = 0 (no smoothing)", cell=BITS,
           replace=[("unigram(train_ids, vocab_size, k=1.0)", "unigram(train_ids, vocab_size, k=0.0)")],
           expect="smooth with k = 1"),
    Mutant("bits: natural log (nats)", cell=BITS,
           replace=[("np.log2(p[val_ids])", "np.log(p[val_ids])")], expect="in nats"),
    Mutant("bits: fitted on val", cell=BITS,
           replace=[("unigram(train_ids, vocab_size, k=1.0)", "unigram(val_ids, vocab_size, k=1.0)")],
           expect="fitted on train"),
    Mutant("bits: entropy of the model instead of the loss on val", cell=BITS,
           replace=[("float(-np.mean(np.log2(p[val_ids])))", "float(-(p * np.log2(p)).sum())")],
           expect="scored on val"),
]
