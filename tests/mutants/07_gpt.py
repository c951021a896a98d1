"""Wrong answers to chapter 07's exercises."""

from mutants import Mutant

MUTANTS = [
    # Exercise 1: parameter count
    Mutant("params: no final LayerNorm", cell="4",
           replace=[("L * block + 2 * C", "L * block")], expect="expected"),
    Mutant("params: no position embedding", cell="4",
           replace=[("V * C + T * C + ", "V * C + ")], expect="expected"),
    Mutant("params: tied model counts the head twice", cell="4",
           replace=[("return n if tied else n + V * C", "return n + V * C")], expect="expected"),
    Mutant("params: untied model without its head", cell="4",
           replace=[("return n if tied else n + V * C", "return n")],
           expect="untied adds one V x C head"),
    # Exercise 2: schedule
    Mutant("schedule: warm-up starts at zero", cell="7",
           replace=[("lr * (step + 1) / warmup", "lr * step / warmup")], expect="step 0"),
    Mutant("schedule: cosine reaches min_lr one step late", cell="7",
           replace=[("max(1, steps - 1 - warmup)", "max(1, steps - warmup)")], expect="step 51"),
    Mutant("schedule: decays to zero", cell="7",
           replace=[("min_lr + 0.5 * (lr - min_lr)", "0.5 * lr")], expect="step"),
    # Exercise 3: one training step
    Mutant("train step: gradients never cleared", cell="10",
           replace=[("optimizer.zero_grad(set_to_none=True)", "pass")], expect="weights differ"),
    Mutant("train step: clipping after the update", cell="10",
           source=("def train_step(model, optimizer, x, y, clip=1.0) -> float:\n"
                   "    _, loss = model(x, y)\n"
                   "    optimizer.zero_grad(set_to_none=True)\n"
                   "    loss.backward()\n"
                   "    optimizer.step()\n"
                   "    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)\n"
                   "    return loss.item()\n"),
           expect="weights differ"),
    Mutant("train step: no clipping", cell="10",
           replace=[("torch.nn.utils.clip_grad_norm_(model.parameters(), clip)", "pass")],
           expect="weights differ"),
    Mutant("train step: returns the tensor", cell="10",
           replace=[("return loss.item()", "return loss")], expect="Python float"),
    # Exercise 4: causal self-attention module
    Mutant("attention module: no scale", cell="13",
           replace=[(" / math.sqrt(d)", "")], expect="scale?"),
    Mutant("attention module: the diagonal masked too", cell="13",
           replace=[("diagonal=1)", "diagonal=0)")], expect="attention weights differ"),
    Mutant("attention module: heads merged without the transpose", cell="13",
           replace=[("(att @ v).transpose(1, 2).reshape(B, T, C)", "(att @ v).reshape(B, T, C)")],
           expect="outputs differ"),
    # Exercise 5: GPT-2 initialisation
    Mutant("init: 1/sqrt(n_layer) instead of 1/sqrt(2 n_layer)", cell="45151fda",
           replace=[("math.sqrt(2 * model.config.n_layer)", "math.sqrt(model.config.n_layer)")],
           expect="0.02 / sqrt(2 n_layer)"),
    Mutant("init: no residual scaling", cell="45151fda",
           replace=[("std=residual_std)", "std=0.02)")], expect="0.02 / sqrt(2 n_layer)"),
    Mutant("init: only the attention projection scaled", cell="45151fda",
           replace=[('name.endswith("c_proj.weight")', 'name.endswith("attn.c_proj.weight")')],
           expect="0.02 / sqrt(2 n_layer)"),
    Mutant("init: every matrix scaled", cell="45151fda",
           replace=[("nn.init.normal_(p, mean=0.0, std=0.02)",
                     "nn.init.normal_(p, mean=0.0, std=residual_std)")], expect="expected 0.02"),
    Mutant("init: biases left alone", cell="45151fda",
           replace=[("nn.init.zeros_(p)", "pass")], expect="biases start at 0"),
    Mutant("init: LayerNorm gains left alone", cell="45151fda",
           replace=[("nn.init.ones_(p)", "pass")], expect="gains start at 1"),
]
