"""How fast is NumPy against PyTorch? The timings of chapters 02 and 04.

Each function measures CPU time of this process (``time.process_time``), not wall time: on a
shared machine other programs' time is not counted. Run NumPy with ``OMP_NUM_THREADS=1`` for
a like-for-like comparison with one torch thread.
"""

from __future__ import annotations

import time

import numpy as np

# chapter 02's MLP language model on names (block 3, 10-dim embeddings, 200 hidden units)
BLOCK, N_EMBD, N_HIDDEN = 3, 10, 200


def _numpy_step_time(X, Y, batch_size, dtype, steps, repeats, seed=0) -> float:
    from lmlib.scratch import optim
    from lmlib.scratch.mlp import MLPLM

    model = MLPLM(27, BLOCK, N_EMBD, N_HIDDEN, seed=seed, dtype=dtype)
    opt = optim.SGD(model.params, lr=0.01)
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(repeats):
        ix = rng.integers(0, len(X), size=(steps, batch_size))
        start = time.process_time()
        for i in range(steps):
            model.forward(X[ix[i]], Y[ix[i]])
            model.backward()
            opt.step(model.grads)
        times.append((time.process_time() - start) / steps)
    return float(np.median(times))


def _torch_step_time(X, Y, batch_size, dtype, steps, repeats, seed=0) -> float:
    import torch

    from lmlib.models import MLPLM

    torch.manual_seed(seed)
    model = MLPLM(27, BLOCK, N_EMBD, N_HIDDEN).to(dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    g = torch.Generator().manual_seed(seed)
    times = []
    for _ in range(repeats):
        ix = torch.randint(0, len(X), (steps, batch_size), generator=g)
        start = time.process_time()
        for i in range(steps):
            _, loss = model(Xt[ix[i]], Yt[ix[i]])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append((time.process_time() - start) / steps)
    return float(np.median(times))


def step_times(X, Y, batch_sizes=(32, 512), repeats: int = 5, steps: int = 200) -> dict:
    """Median CPU seconds per training step (forward + backward + SGD update) of the MLP LM,
    ``{"NumPy float64, B=32": ..., "PyTorch float64, B=32": ..., ...}``.

    CPU time of this process (``time.process_time``), not wall time: on a shared machine it
    does not count the time other programs hold the CPU. With one thread for torch and for
    NumPy's BLAS (``OMP_NUM_THREADS=1``) it equals the wall time on an idle machine."""
    import torch

    out = {}
    for bs in batch_sizes:
        for np_dtype, t_dtype, name in [(np.float64, torch.float64, "float64"),
                                        (np.float32, torch.float32, "float32")]:
            out[f"NumPy {name}, B={bs}"] = _numpy_step_time(X, Y, bs, np_dtype, steps, repeats)
            out[f"PyTorch {name}, B={bs}"] = _torch_step_time(X, Y, bs, t_dtype, steps, repeats)
    return out


def lstm_speed(T: int = 128, B: int = 32, I: int = 64, H: int = 384, repeats: int = 5) -> dict:
    """Median CPU seconds of forward + backward of the same LSTM layer in NumPy and in
    PyTorch (float32, the threads torch is set to; run NumPy with ``OMP_NUM_THREADS=1`` for a
    like-for-like one-thread comparison), and their ratio."""
    import torch

    from lmlib.scratch.lstm import LSTM

    rng = np.random.default_rng(0)
    mine = LSTM(I, H, rng=rng, dtype=np.float32)
    ref = mine.to_torch()
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    dhs = rng.standard_normal((T, B, H)).astype(np.float32)
    xt, dht = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dhs)

    def numpy_step():
        hs, _, cache = mine.forward(x)
        mine.backward(dhs, cache)

    def torch_step():
        ref.zero_grad()
        out, _ = ref(xt)
        out.backward(dht)

    times = {}
    for name, fn in (("numpy", numpy_step), ("torch", torch_step)):
        fn()  # warm up
        runs = []
        for _ in range(repeats):  # CPU time: robust to other processes on a shared machine
            t = time.process_time()
            fn()
            runs.append(time.process_time() - t)
        times[name] = float(np.median(runs))
    return dict(numpy_s=times["numpy"], torch_s=times["torch"],
                ratio=times["numpy"] / times["torch"], shape=(T, B, I, H))
