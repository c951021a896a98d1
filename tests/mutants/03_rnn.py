"""Wrong answers to chapter 03's exercises."""

from mutants import Mutant

STEP, BPTT, CLIP, TBPTT, SPECTRAL = "4", "7", "10", "13", "16"

MUTANTS = [
    # Exercise 1: one RNN step
    Mutant("rnn step: W_hh not transposed", cell=STEP,
           replace=[("h_prev @ W_hh.T", "h_prev @ W_hh")], expect="transposes"),
    Mutant("rnn step: bias left out", cell=STEP,
           replace=[(" + b)", ")")], expect="bias"),
    Mutant("rnn step: sigmoid instead of tanh", cell=STEP,
           replace=[("np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)",
                     "1 / (1 + np.exp(-(x_t @ W_xh.T + h_prev @ W_hh.T + b)))")],
           expect="torch.nn.RNN"),
    Mutant("rnn step: ReLU instead of tanh", cell=STEP,
           replace=[("np.tanh(x_t @ W_xh.T + h_prev @ W_hh.T + b)",
                     "np.maximum(0, x_t @ W_xh.T + h_prev @ W_hh.T + b)")],
           expect="differs from torch.nn.RNN"),
    # Exercise 2: BPTT for a loss on the last step
    Mutant("bptt: no tanh derivative", cell=BPTT,
           replace=[("da = dh * (1 - hs[t] ** 2)", "da = dh")], expect="tanh derivative"),
    Mutant("bptt: h_t instead of h_{t-1} in dW_hh", cell=BPTT,
           replace=[("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t]")],
           expect="dW_hh differs"),
    Mutant("bptt: W_hh transposed on the way back", cell=BPTT,
           replace=[("dh = da @ W_hh", "dh = da @ W_hh.T")], expect="differs from autograd"),
    Mutant("bptt: only the last step", cell=BPTT,
           replace=[("for t in reversed(range(len(hs))):", "for t in [len(hs) - 1]:")],
           expect="every step"),
    # Exercise 3: clipping by global norm
    Mutant("clip: each array by its own norm", cell=CLIP,
           source="def clip_by_global_norm(grads, max_norm):\n"
                  "    out = {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}\n"
                  "    return out, float(np.sqrt(sum((g ** 2).sum() for g in grads.values())))\n",
           expect="one global norm"),
    Mutant("clip: always rescaled to max_norm", cell=CLIP,
           replace=[("scale = min(1.0, max_norm / norm) if norm > 0 else 1.0",
                     "scale = max_norm / norm")], expect="nothing is scaled"),
    Mutant("clip: returns the norm after clipping", cell=CLIP,
           replace=[("return {k: g * scale for k, g in grads.items()}, norm",
                     "return {k: g * scale for k, g in grads.items()}, min(norm, max_norm)")],
           expect="global norm of 3, 0 and 4"),
    Mutant("clip: in place", cell=CLIP,
           replace=[("return {k: g * scale for k, g in grads.items()}, norm",
                     "for g in grads.values():\n        g *= scale\n    return grads, norm")],
           expect="originals must not change"),
    # Exercise 4: truncated BPTT
    Mutant("tbptt: the state is never carried", cell=TBPTT,
           replace=[("h = hs[-1]", "h = None")], expect="carry the last state"),
    Mutant("tbptt: bptt ignored, one chunk", cell=TBPTT,
           replace=[("range(0, len(x), bptt)", "range(0, len(x), len(x))"),
                    ("x[s:s + bptt]", "x[s:]"), ("dhs[s:s + bptt]", "dhs[s:]")],
           expect="one gradient per chunk"),
    Mutant("tbptt: carries the first state of the chunk", cell=TBPTT,
           replace=[("h = hs[-1]", "h = hs[0]")], expect="carry the last state"),
    Mutant("tbptt: overlapping chunks (off by one)", cell=TBPTT,
           replace=[("x[s:s + bptt]", "x[s:s + bptt + 1]"),
                    ("dhs[s:s + bptt]", "dhs[s:s + bptt + 1]")], expect="hs must have shape"),
    Mutant("tbptt: keeps rnn.grads itself, not a copy", cell=TBPTT,
           replace=[("grads.append({k: g.copy() for k, g in rnn.grads.items()})",
                     "grads.append(rnn.grads)")], expect="chunk 0"),
    # Exercise 5: spectral radius
    Mutant("spectral: largest singular value", cell=SPECTRAL,
           replace=[("np.max(np.abs(np.linalg.eigvals(W)))", "np.linalg.norm(W, 2)")],
           expect="singular value"),
    Mutant("spectral: largest real part", cell=SPECTRAL,
           replace=[("np.max(np.abs(np.linalg.eigvals(W)))",
                     "np.max(np.linalg.eigvals(W).real)")], expect="complex"),
    Mutant("steps_to_vanish: closed form from the spectral radius", cell=SPECTRAL,
           replace=[("    g = np.ones(len(W)) / np.sqrt(len(W))\n",
                     "    rho = spectral_radius(W)\n"
                     "    return None if rho >= 1 else int(np.ceil(np.log(tol) / np.log(rho)))\n")],
           expect="transient growth"),
    Mutant("steps_to_vanish: W instead of W^T", cell=SPECTRAL,
           replace=[("g = W.T @ g", "g = W @ g")], expect="W^T, not W"),
    Mutant("steps_to_vanish: start not normalised", cell=SPECTRAL,
           replace=[("g = np.ones(len(W)) / np.sqrt(len(W))", "g = np.ones(len(W))")],
           expect="unit vector"),
]
