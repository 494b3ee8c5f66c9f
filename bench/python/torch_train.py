"""Time one local epoch of the Starling MLP and CNN in PyTorch.

The workload matches `crates/train/benches/local_epoch.rs`: 600 digits
(every 16th of the 10,000 in data/mnist-10k), standardised with the same
mean and standard deviation, batch 32, plain SGD with learning rate 0.05,
one epoch per timed run, reshuffled each run. Prints examples per second.

Usage: python bench/python/torch_train.py [--threads 1] [--repeats 10]
"""

import argparse
import gzip
import pathlib
import statistics
import time

import numpy as np
import torch
from torch import nn

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA_DIR = REPO / "data" / "mnist-10k"
EXAMPLES = 600
STRIDE = 16
BATCH_SIZE = 32
LEARNING_RATE = 0.05
# Same constants as starling_train::PIXEL_MEAN and PIXEL_STD.
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081


def read_idx(path: pathlib.Path, header_len: int) -> np.ndarray:
    """Returns the payload of a gzip-compressed IDX file as uint8."""
    with gzip.open(path, "rb") as file:
        raw = file.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len)


def load_examples() -> tuple[torch.Tensor, torch.Tensor]:
    """Loads every 16th embedded digit: images [600, 784] and labels [600]."""
    images = read_idx(DATA_DIR / "images-idx3-ubyte.gz", 16).reshape(-1, 784)
    labels = read_idx(DATA_DIR / "labels-idx1-ubyte.gz", 8)
    indices = np.arange(EXAMPLES) * STRIDE
    pixels = (images[indices].astype(np.float32) / 255.0 - PIXEL_MEAN) / PIXEL_STD
    return torch.from_numpy(pixels), torch.from_numpy(labels[indices].astype(np.int64))


def mlp() -> nn.Module:
    """Builds the 2NN: 784-200-200-10 with ReLU."""
    return nn.Sequential(
        nn.Linear(784, 200),
        nn.ReLU(),
        nn.Linear(200, 200),
        nn.ReLU(),
        nn.Linear(200, 10),
    )


def cnn() -> nn.Module:
    """Builds the CNN: two 5x5 conv + 2x2 max-pool blocks (32, 64 channels), dense 512, output 10."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 32, 5, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding="same"),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * 64, 512),
        nn.ReLU(),
        nn.Linear(512, 10),
    )


def train_epoch(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Runs one epoch of mini-batch SGD and returns the mean batch loss."""
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    order = torch.randperm(len(labels))
    total = 0.0
    steps = 0
    for start in range(0, len(labels), BATCH_SIZE):
        batch = order[start : start + BATCH_SIZE]
        loss = nn.functional.cross_entropy(model(images[batch]), labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
        steps += 1
    return total / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="number of torch intra-op threads")
    parser.add_argument("--warmup", type=int, default=2, help="number of untimed warm-up epochs per model")
    parser.add_argument("--repeats", type=int, default=10, help="number of timed epochs per model")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images, labels = load_examples()
    print(
        f"torch {torch.__version__}, numpy {np.__version__}, "
        f"threads {torch.get_num_threads()}, {EXAMPLES} examples, batch {BATCH_SIZE}"
    )
    for name, build in [("mlp", mlp), ("cnn", cnn)]:
        initial = build().state_dict()
        model = build()
        for _ in range(args.warmup):
            model.load_state_dict(initial)
            train_epoch(model, images, labels)
        seconds = []
        for _ in range(args.repeats):
            # Every timed epoch starts from the same model, as train_local does.
            model.load_state_dict(initial)
            start = time.perf_counter()
            train_epoch(model, images, labels)
            seconds.append(time.perf_counter() - start)
        median = statistics.median(seconds)
        print(
            f"{name}: median {median * 1000:.1f} ms/epoch "
            f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f}), "
            f"{EXAMPLES / median:.0f} samples/s"
        )


if __name__ == "__main__":
    main()
