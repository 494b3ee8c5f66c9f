"""FedAvg aggregation of 100 updates of 1M float32 parameters in numpy.

Two ways a Python FL server computes the example-weighted mean:

* ``flower_style``: scale each update by its example count, sum the scaled
  arrays with ``functools.reduce(np.add, ...)`` and divide by the total, as
  Flower's ``aggregate`` helper does (one temporary array per client).
* ``tensordot``: the updates stacked in one (100, 1M) array and reduced with
  ``np.tensordot(weights, stacked, axes=1)`` (one BLAS call, no temporaries;
  the stacking itself is not timed).

Prints the median of several timed repeats after a warm-up, in ms and in
GB/s of update data read. Run with the same weights as the Rust benchmark:
``python3 bench/python/numpy_fedavg.py``.
"""

import functools
import statistics
import time

import numpy as np

CLIENTS = 100
PARAMS = 1_000_000
REPEATS = 10


def flower_style(updates, counts):
    total = sum(counts)
    scaled = [u * n for u, n in zip(updates, counts)]
    return functools.reduce(np.add, scaled) / total


def tensordot(stacked, weights):
    return np.tensordot(weights, stacked, axes=1)


def timed(fn):
    fn()
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    rng = np.random.default_rng(7)
    updates = [rng.uniform(-1, 1, PARAMS).astype(np.float32) for _ in range(CLIENTS)]
    counts = [float((k % 7 + 1) * 100) for k in range(CLIENTS)]
    stacked = np.stack(updates)
    weights = np.asarray(counts, dtype=np.float32) / np.float32(sum(counts))

    reference = flower_style(updates, counts)
    assert np.allclose(reference, tensordot(stacked, weights), atol=1e-5)

    data_gb = CLIENTS * PARAMS * 4 / 1e9
    print(f"numpy {np.__version__}, {CLIENTS} updates x {PARAMS} float32")
    for name, fn in [
        ("flower_style", lambda: flower_style(updates, counts)),
        ("tensordot", lambda: tensordot(stacked, weights)),
    ]:
        seconds = timed(fn)
        print(f"{name:14s} {seconds * 1e3:8.1f} ms  {data_gb / seconds:6.2f} GB/s")


if __name__ == "__main__":
    main()
