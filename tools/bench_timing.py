"""Timing shared by the PyTorch twins of the criterion benches (tools/bench_*_torch.py)."""
import statistics
import time


def median_ms(fn, min_time=2.0, warmup=3):
    """Median wall time of `fn()` in milliseconds, after `warmup` calls, over at least
    `min_time` seconds and 10 calls."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 10:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3
