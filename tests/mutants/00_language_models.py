"""Wrong answers to chapter 00's exercises."""

from mutants import Mutant

MUTANTS = [
    Mutant("perplexity: mean of probabilities instead of logs", cell="4479f709",
           replace=[("np.exp(-np.mean(logprobs))", "1 / np.mean(np.exp(logprobs))")],
           expect="geometric mean"),
    Mutant("perplexity: sum instead of mean", cell="4479f709",
           replace=[("np.mean(logprobs)", "np.sum(logprobs)")], expect="perplexity 2"),
    Mutant("perplexity: base 2", cell="4479f709",
           replace=[("np.exp(-np.mean(logprobs))", "2 ** (-np.mean(logprobs))")],
           expect="perplexity"),
]
