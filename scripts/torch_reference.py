#!/usr/bin/env python3
"""PyTorch reference for `elbo-lab bench --preset vdm-colab`: the same network and step, for a
steps/s figure on the same GPU to set ours beside.

The network is engine/model.rs's: z, sin and cos of z·2^k (k < 4), sin and cos of λ·f_j
(16 frequencies from 0.05 to 8, geometric), λ/10, then 2 × 512 swish and a zero-initialised
linear output. The step is engine/train.rs's: moons data (standardised), λ from the cosine
schedule truncated to [−12, 12] by stratified inverse-CDF sampling, ε-prediction with the ELBO
weighting importance-sampled (Eq. 7: coefficient ½·w(λ)/p(λ) with w = 1), Adam (lr 1e-3),
global-norm clipping at 1 and an EMA of the weights (decay 0.999 with the same warm-up).

Everything stays on the GPU (batches are drawn there), nothing is read back until the end, and
Adam runs fused: what a careful PyTorch user would write. `--mode graph` replays the whole step
as one CUDA graph, the fastest plain PyTorch gets. Prints one JSON object.
Timings only: not part of `make test`.
"""
import argparse
import json
import math
import time

import torch


def moons(n, generator, device):
    """Two interleaved half circles with Gaussian noise 0.1 (scikit-learn's make_moons)."""
    half = n // 2
    t_out = torch.rand(half, generator=generator, device=device) * math.pi
    t_in = torch.rand(n - half, generator=generator, device=device) * math.pi
    outer = torch.stack([torch.cos(t_out), torch.sin(t_out)], 1)
    inner = torch.stack([1 - torch.cos(t_in), 1 - torch.sin(t_in) - 0.5], 1)
    x = torch.cat([outer, inner]) + 0.1 * torch.randn(n, 2, generator=generator, device=device)
    return (x - x.mean(0)) / x.std(0)


class Denoiser(torch.nn.Module):
    def __init__(self, width, depth, octaves=4, lambda_frequencies=16):
        super().__init__()
        features = 2 + 2 * 2 * octaves + 2 * lambda_frequencies + 1
        self.register_buffer("octaves", 2.0 ** torch.arange(octaves, dtype=torch.float32))
        self.register_buffer(
            "lambda_freqs",
            0.05 * (8.0 / 0.05) ** (torch.arange(lambda_frequencies) / (lambda_frequencies - 1)),
        )
        sizes = [features] + [width] * depth
        self.hidden = torch.nn.ModuleList(
            torch.nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.output = torch.nn.Linear(width, 2)
        torch.nn.init.zeros_(self.output.weight)
        torch.nn.init.zeros_(self.output.bias)

    def forward(self, z, lam):
        phase = (z[:, :, None] * self.octaves).flatten(1)
        lphase = lam[:, None] * self.lambda_freqs
        h = torch.cat(
            [z, phase.sin(), phase.cos(), lphase.sin(), lphase.cos(), lam[:, None] / 10.0], 1
        )
        for layer in self.hidden:
            h = torch.nn.functional.silu(layer(h))
        return self.output(h)


def cosine_lambda(u, lambda_min, lambda_max):
    """Inverse CDF of p(λ) ∝ sech(λ/2) on [λ_min, λ_max]: the CDF is (2/π)·atan(e^{λ/2})."""
    lo, hi = (math.atan(math.exp(v / 2)) for v in (lambda_min, lambda_max))
    lam = 2 * torch.log(torch.tan(lo + u * (hi - lo)))
    density = 1 / (2 * torch.cosh(lam / 2)) / (2 * (hi - lo))
    return lam, density


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument(
        "--mode",
        choices=["eager", "graph", "compile"],
        default="eager",
        help="eager PyTorch, one CUDA graph replayed per step, or torch.compile of the network",
    )
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    graph = args.mode == "graph"
    if graph and device != "cuda":
        parser.error("--mode graph needs a CUDA device")
    # A CUDA graph draws from the default generator (custom ones need registering with it).
    torch.manual_seed(0)
    gen = None if graph else torch.Generator(device=device).manual_seed(0)
    data = moons(8192, gen, device)
    model = Denoiser(args.width, args.depth).to(device)
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params]
    adam = torch.optim.Adam(params, lr=1e-3, fused=device == "cuda", capturable=graph)
    forward = torch.compile(model) if args.mode == "compile" else model
    b = args.batch
    offsets = torch.arange(b, device=device)
    # The EMA's decay lives on the device, so a captured graph reads each step's value.
    decay = torch.zeros((), device=device)

    def train_step():
        x = data[torch.randint(0, data.shape[0], (b,), generator=gen, device=device)]
        # Stratified u: one uniform per stratum of [0, 1).
        u = (offsets + torch.rand(b, generator=gen, device=device)) / b
        lam, density = cosine_lambda(u, -12.0, 12.0)
        alpha2 = torch.sigmoid(lam)[:, None]
        eps = torch.randn(b, 2, generator=gen, device=device)
        z = alpha2.sqrt() * x + (1 - alpha2).sqrt() * eps
        err = (forward(z, lam) - eps).square().sum(1)
        loss = (0.5 / density * err).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        adam.step()
        torch._foreach_mul_(ema, decay)
        torch._foreach_add_(ema, torch._foreach_mul([p.detach() for p in params], 1 - decay))
        return loss.detach()

    def step(k):
        decay.fill_(min(0.999, (1 + k) / (10 + k)))
        adam.zero_grad(set_to_none=True)
        return train_step()

    run = step
    start = time.perf_counter()
    if graph:
        # Warm up on a side stream, then capture one whole step (PyTorch's CUDA-graph recipe).
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for k in range(3):
                step(k)
        torch.cuda.current_stream().wait_stream(side)
        captured = torch.cuda.CUDAGraph()
        adam.zero_grad(set_to_none=True)
        with torch.cuda.graph(captured):
            static_loss = train_step()

        def run(k):
            decay.fill_(min(0.999, (1 + k) / (10 + k)))
            captured.replay()
            return static_loss

    run(0)
    if device == "cuda":
        torch.cuda.synchronize()
    first_step_s = time.perf_counter() - start
    start = time.perf_counter()
    for k in range(1, args.steps + 1):
        loss = run(k)
    final_loss = float(loss)  # the one readback, after every queued step
    seconds = time.perf_counter() - start
    rate = args.steps / seconds
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    print(json.dumps({
        "reference": f"pytorch ({args.mode}, fused Adam)",
        "torch": torch.__version__,
        "device": name,
        "batch": b,
        "width": args.width,
        "depth": args.depth,
        "first_step_s": first_step_s,
        "steps": args.steps,
        "steps_per_s": rate,
        "projected_20k_s": 20000 / rate,
        "final_loss": final_loss,
    }, indent=2))


if __name__ == "__main__":
    main()
