"""Wrong answers to chapter 09's exercises."""

from mutants import Mutant

T, K, P, G, KV, R, B = "4", "7", "10", "13", "16", "8832b9bb", "e0975a3f"

MUTANTS = [
    # 1. temperature
    Mutant("temperature: no max-subtraction", cell=T,
           replace=[("np.exp(z - z.max())", "np.exp(z)")], expect="overflow"),
    Mutant("temperature: divides the probabilities", cell=T,
           replace=[("z = logits / T\n", "z = logits\n"),
                    ("return e / e.sum()", "p = e / e.sum() / T\n    return p / p.sum()")],
           expect="divide the logits by T"),
    Mutant("temperature: multiplies by T", cell=T,
           replace=[("logits / T", "logits * T")], expect="divide the logits by T"),
    Mutant("temperature: not normalised", cell=T,
           replace=[("return e / e.sum()", "return e")], expect="plain softmax"),
    # 2. top-k
    Mutant("top-k: off by one (keeps k + 1)", cell=K,
           replace=[("np.sort(logits)[-k]", "np.sort(logits)[-k - 1]")], expect="k LARGEST"),
    Mutant("top-k: the k-th smallest as the bar", cell=K,
           replace=[("np.sort(logits)[-k]", "np.sort(logits)[k - 1]")], expect="k LARGEST"),
    Mutant("top-k: argsort drops ties", cell=K,
           source="def top_k(logits, k):\n    out = np.full_like(logits, -np.inf)\n"
                  "    keep = np.argsort(logits)[-k:]\n    out[keep] = logits[keep]\n    return out\n",
           expect="tied"),
    Mutant("top-k: zero instead of -inf", cell=K,
           replace=[("-np.inf", "0.0")], expect="-inf"),
    # 3. top-p
    Mutant("top-p: cumulative mass includes the token itself", cell=P,
           replace=[("above = np.cumsum(probs) - probs", "above = np.cumsum(probs)")],
           expect="always kept"),
    Mutant("top-p: sorted least likely first", cell=P,
           replace=[("np.argsort(logits)[::-1]", "np.argsort(logits)")], expect="most likely"),
    Mutant("top-p: no sort (token order)", cell=P,
           replace=[("np.argsort(logits)[::-1]", "np.arange(len(logits))")], expect="p = 0.4"),
    Mutant("top-p: returns renormalised probabilities", cell=P,
           replace=[("np.where(keep, logits, -np.inf)",
                     "np.where(keep, S.softmax(np.where(keep, logits, -np.inf)), -np.inf)")],
           expect="kept logits are unchanged"),
    # 4. the greedy loop
    Mutant("greedy: argmax at the first position", cell=G,
           replace=[("logits[0, -1].argmax()", "logits[0, 0].argmax()")], expect="LAST position"),
    Mutant("greedy: context cropped one token short", cell=G,
           replace=[("ids[-block:]", "ids[-(block - 1):]")], expect="last block_size tokens"),
    Mutant("greedy: returns only the new tokens", cell=G,
           replace=[("    return ids\n", "    return ids[-n_new:]\n")],
           expect="prompt followed by n_new"),
    Mutant("greedy: samples instead of argmax", cell=G,
           replace=[("int(logits[0, -1].argmax())",
                     "int(torch.multinomial(torch.softmax(logits[0, -1], -1), 1))")],
           expect="argmax"),
    # 5. KV cache step
    Mutant("kv: no 1/sqrt(d) scale", cell=KV,
           replace=[(" / q.shape[-1] ** 0.5", "")], expect="causal attention"),
    Mutant("kv: attends before appending (cannot see itself)", cell=KV,
           source="def attend_with_cache(q, k, v, K, V):\n"
                  "    scores = (K @ q[:, :, None])[..., 0] / q.shape[-1] ** 0.5\n"
                  "    out = (torch.softmax(scores, dim=-1)[:, :, None] * V).sum(dim=1)\n"
                  "    K = torch.cat([K, k[:, None, :]], dim=1)\n"
                  "    V = torch.cat([V, v[:, None, :]], dim=1)\n"
                  "    return out, K, V\n",
           expect="causal attention"),
    Mutant("kv: softmax over the heads", cell=KV,
           replace=[("torch.softmax(scores, dim=-1)", "torch.softmax(scores, dim=0)")],
           expect="causal attention"),
    Mutant("kv: the cache is not returned grown", cell=KV,
           replace=[("return out, K, V", "return out, K[:, :-1], V[:, :-1]")],
           expect="append the new key"),
    # 6. the repetition penalty
    Mutant("penalty: CTRL's rule (divides negative logits too)", cell=R,
           replace=[("out[t] / penalty if out[t] > 0 else out[t] * penalty", "out[t] / penalty")],
           expect="negative logit must move DOWN"),
    Mutant("penalty: once per occurrence", cell=R,
           replace=[("for t in set(previous):", "for t in previous:")], expect="each token once"),
    Mutant("penalty: changes the input in place", cell=R,
           replace=[("out = logits.copy()", "out = logits")], expect="input logits"),
    Mutant("penalty: multiplies positive logits", cell=R,
           replace=[("out[t] / penalty if out[t] > 0", "out[t] * penalty if out[t] > 0")],
           expect="divide the positive"),
    # 7. beam search
    Mutant("beam: no length normalisation", cell=B,
           replace=[("h[1] / (len(h[0]) - len(prompt)) ** alpha", "h[1]")],
           expect="length normalisation"),
    Mutant("beam: normalises by the whole length (prompt included)", cell=B,
           replace=[("(len(h[0]) - len(prompt)) ** alpha", "len(h[0]) ** alpha")],
           expect="best hypothesis"),
    Mutant("beam: the stop token does not end a hypothesis", cell=B,
           replace=[("if tok == stop_id:", "if False:")], expect="ends at the stop token"),
    Mutant("beam: ranks by the last step's log-probability", cell=B,
           replace=[("candidates.append((seq + [tok], total + lp))",
                     "candidates.append((seq + [tok], total + lp, lp))"),
                    ("candidates.sort(key=lambda c: -c[1])", "candidates.sort(key=lambda c: -c[2])"),
                    ("beams = candidates[:beam_width]",
                     "beams = [c[:2] for c in candidates[:beam_width]]")],
           expect="TOTAL log-probability"),
    Mutant("beam: forgets the finished hypotheses", cell=B,
           replace=[("return max(finished, key=score)[0]", "return max(beams, key=score)[0]")],
           expect="stop token"),
]
