"""Wrong answers to chapter 06's exercises."""

from mutants import Mutant

SOFTMAX = "att = F.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)"
SCORES = "(q @ k.transpose(-2, -1) / d ** 0.5)"

MUTANTS = [
    # Exercise 1: LayerNorm forward
    Mutant("layer_norm: unbiased variance", cell="4",
           replace=[("x.var(axis=-1, keepdims=True)", "x.var(axis=-1, keepdims=True, ddof=1)")],
           expect="biased variance"),
    Mutant("layer_norm: eps outside the square root", cell="4",
           replace=[("np.sqrt(var + eps)", "(np.sqrt(var) + eps)")], expect="eps inside the sqrt"),
    Mutant("layer_norm: statistics over the batch axis", cell="4",
           replace=[("x.mean(axis=-1", "x.mean(axis=0"), ("x.var(axis=-1", "x.var(axis=0")],
           expect="not equal to torch's layer_norm"),
    Mutant("layer_norm: no gain and shift", cell="4",
           replace=[("gamma * (x - mu) / np.sqrt(var + eps) + beta", "(x - mu) / np.sqrt(var + eps)")],
           expect="not equal to torch's layer_norm"),
    # Exercise 2: LayerNorm backward
    Mutant("backward: dbeta averaged instead of summed", cell="7",
           replace=[("dy.reshape(-1, C).sum(0)", "dy.reshape(-1, C).mean(0)")], expect="dbeta"),
    Mutant("backward: dgamma with x instead of xhat", cell="7",
           replace=[("(dy * xhat).reshape", "(dy * x).reshape")], expect="dgamma"),
    Mutant("backward: dx without the variance term", cell="7",
           replace=[(" - xhat * (gg * xhat).mean(-1, keepdims=True)", "")], expect="dx is wrong"),
    Mutant("backward: dx forgets gamma", cell="7",
           replace=[("gg = dy * gamma", "gg = dy")], expect="dx is wrong"),
    # Exercise 3: causal self-attention in NumPy
    Mutant("attention: no 1/sqrt(d) scale", cell="10",
           replace=[(" / np.sqrt(d)", "")], expect="CausalSelfAttention"),
    Mutant("attention: no causal mask", cell="10",
           replace=[("scores = np.where(causal_mask(T), scores, -np.inf)", "pass")],
           expect="CausalSelfAttention"),
    Mutant("attention: heads split along time", cell="10",
           replace=[("a.reshape(B, T, n_head, d).transpose(0, 2, 1, 3)", "a.reshape(B, n_head, T, d)")],
           expect="CausalSelfAttention"),
    Mutant("attention: softmax over the queries", cell="10",
           replace=[("scores.max(-1, keepdims=True)", "scores.max(-2, keepdims=True)"),
                    ("w /= w.sum(-1, keepdims=True)", "w /= w.sum(-2, keepdims=True)")],
           expect="CausalSelfAttention"),
    # Exercise 4: the pre-LN block
    Mutant("block: ReLU instead of GELU", cell="13",
           replace=[("h = 0.5 * h * (1 + np.tanh(np.sqrt(2 / np.pi) * (h + 0.044715 * h ** 3)))",
                     "h = np.maximum(h, 0)")], expect="GPT's Block"),
    Mutant("block: no residual around the MLP", cell="13",
           replace=[("return x + h @", "return h @")], expect="GPT's Block"),
    Mutant("block: ln_1's weights for ln_2", cell="13",
           replace=[('P["ln_2.weight"], P["ln_2.bias"]', 'P["ln_1.weight"], P["ln_1.bias"]')],
           expect="GPT's Block"),
    Mutant("block: no residual around attention", cell="13",
           replace=[("x = x + causal_self_attention(", "x = causal_self_attention(")],
           expect="GPT's Block"),
    # Exercise 5: parameters of a block
    Mutant("block params: LayerNorms forgotten", cell="16",
           replace=[("2 * 2 * C + ", "")], expect="the Block has"),
    Mutant("block params: no bias in c_attn", cell="16",
           replace=[("(3 * C * C + 3 * C)", "(3 * C * C)")], expect="the Block has"),
    Mutant("block params: the 12 C^2 approximation", cell="16",
           source="def block_params(C: int) -> int:\n    return 12 * C * C\n",
           expect="the Block has"),
    # Exercise 6a: attention without the mask
    Mutant("seeing attention: the causal mask kept", cell="70406c1c",
           replace=[(SOFTMAX, "att = F.softmax(" + SCORES + ".masked_fill(torch.ones(T, T, "
                     "dtype=torch.bool).triu(1), float('-inf')), dim=-1)")],
           expect="remove the causal mask"),
    Mutant("seeing attention: the past masked instead", cell="70406c1c",
           replace=[(SOFTMAX, "att = F.softmax(" + SCORES + ".masked_fill(torch.ones(T, T, "
                     "dtype=torch.bool).tril(-1), float('-inf')), dim=-1)")],
           expect="do not mask the past"),
    Mutant("seeing attention: no scale", cell="70406c1c",
           replace=[(" / d ** 0.5", "")], expect="scale"),
    Mutant("seeing attention: softmax over the queries", cell="70406c1c",
           replace=[("d ** 0.5, dim=-1)", "d ** 0.5, dim=-2)")], expect="sum to 1"),
    # Exercise 6b: the loss as generation meets it
    Mutant("generation: one pass over the whole sequence", cell="6ea472eb",
           source=("@torch.no_grad()\ndef generation_logprobs(model, ids):\n"
                   "    logits, _ = model(ids[None])\n"
                   "    return F.log_softmax(logits[0, :-1], dim=-1)\n"),
           expect="must not see"),
    Mutant("generation: the prefix includes the target", cell="6ea472eb",
           replace=[("ids[None, : t + 1]", "ids[None, : t + 2]"), ("logits[0, -1]", "logits[0, -2]")],
           expect="must not see"),
    Mutant("generation: the first position of the prefix", cell="6ea472eb",
           replace=[("logits[0, -1]", "logits[0, 0]")], expect="forward pass at position t"),
    Mutant("generation: raw logits", cell="6ea472eb",
           replace=[("F.log_softmax(logits[0, -1], dim=-1)", "logits[0, -1]")],
           expect="log-probabilities"),
]
