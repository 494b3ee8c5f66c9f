"""Benchmark Flower's SecAgg+ (flwr 1.42) with all clients simulated in one process.

The server side is Flower's own ``SecAggPlusWorkflow``: this script calls its four
stage methods (``setup_stage``, ``share_keys_stage``, ``collect_masked_vectors_stage``,
``unmask_stage``) in order, as ``SecAggPlusWorkflow.__call__`` does, so that each
stage can be timed. The client side is Flower's ``secaggplus_mod`` wrapped around a
minimal ClientApp function that returns a fixed float32 vector. ``SequentialGrid``
replaces the SuperLink: it delivers every message to its client in turn, in this
process, with a protobuf encode/decode of each message and reply as the only
transport. There is no gRPC, no Ray and no thread of this script's own. Flower's
Shamir helpers start a thread pool internally, but their pure-Python arithmetic
holds the GIL.

Cases (n = --clients):

* ``a``: sparse SecAgg+ graph, num_shares = 7, no dropout.
* ``b``: num_shares = 7, and 10% of the clients drop after the share-keys stage, so
  they never send a masked vector and the server removes their pairwise masks.
* ``c``: all-to-all, num_shares = n, no dropout.

Flower has no default reconstruction threshold, so every case uses a majority of
the shares: ``num_shares // 2 + 1``. Clipping range, quantization range, modulus
range and max_weight are Flower's defaults.

Each client reports ``num_examples = max_weight``, so Flower's weight factor
``q_ratio`` equals the quantization range, quantization keeps its full resolution,
and the unmasked result is the plain mean of the surviving clients' vectors. The
script multiplies that mean by the number of survivors and checks it against the
plaintext float64 sum. Stochastic rounding moves each client's value by less than
one quantization step (2 * clipping_range / quantization_range), so the error
bound is survivors * step.

Run:  /tmp/flwr-venv/bin/python bench/flower_secagg/flower_secagg.py
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import version
from uuid import uuid4

import numpy as np

import flwr
import flwr.compat.common.recorddict_compat as compat
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.client.mod import secaggplus_mod
from flwr.common import (
    Code,
    FitRes,
    Parameters,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.common.secure_aggregation.secaggplus_constants import (
    RECORD_KEY_CONFIGS,
    Key,
    Stage,
)
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.proto.message_pb2 import Message as ProtoMessage  # pylint: disable=E0611
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import FedAvg
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import (
    SecAggPlusWorkflow,
    WorkflowState,
)
from flwr.serverapp.grid import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

RUN_ID = 1
FIRST_NODE_ID = 1000
SPARSE_NUM_SHARES = 7
DROPOUT_FRACTION = 0.10
# Stages after which a dropped client no longer replies.
STAGES_SKIPPED_BY_DROPPED = (Stage.COLLECT_MASKED_VECTORS, Stage.UNMASK)


@dataclass
class CaseSpec:
    """One benchmark configuration."""

    label: str
    description: str
    num_shares: int
    dropout_fraction: float


@dataclass
class StageTimes:
    """Seconds spent in one protocol stage, split by who did the work."""

    wall: float = 0.0
    clients: float = 0.0
    transport: float = 0.0
    replies: int = 0

    @property
    def server(self) -> float:
        """Wall time not spent in client code or in protobuf encode/decode."""
        return self.wall - self.clients - self.transport


@dataclass
class CaseResult:
    """Timings, the protocol parameters Flower used and the correctness check."""

    spec: CaseSpec
    stage_times: dict[str, StageTimes]
    cpu_seconds: float
    num_shares: int
    threshold: int
    clipping_range: float
    quantization_range: int
    mod_range: int
    max_weight: float
    dropped: list[int] = field(default_factory=list)
    survivors: int = 0
    max_abs_sum_error: float = 0.0
    rms_sum_error: float = 0.0
    sum_error_bound: float = 0.0
    rms_gap_to_all_client_sum: float | None = None


def reconstruction_threshold_for(num_shares: int) -> int:
    """Return the majority threshold used in every case."""
    return num_shares // 2 + 1


def copy_over_wire(message: Message) -> Message:
    """Return a copy of a message made by a protobuf encode and decode.

    The copy matters: Flower's workflow sends one shared RecordDict to every
    client in the setup stage, and ``secaggplus_mod`` pops the stage key from it.
    """
    wire_bytes = message_to_proto(message).SerializeToString()
    return message_from_proto(ProtoMessage.FromString(wire_bytes))


def stage_of(message: Message) -> str:
    """Return the SecAgg+ stage named in a server instruction."""
    return str(message.content.config_records[RECORD_KEY_CONFIGS][Key.STAGE])


class SimulatedClient:
    """A client node: Flower's ``secaggplus_mod`` around a fixed-output fit."""

    def __init__(self, node_id: int, parameters: Parameters, num_examples: int):
        self.node_id = node_id
        self.parameters = parameters
        self.num_examples = num_examples
        self.context = Context(
            run_id=RUN_ID,
            node_id=node_id,
            node_config={},
            state=RecordDict(),
            run_config={},
        )

    def fit(self, message: Message, _context: Context) -> Message:
        """Return this client's vector as a FitRes, without training."""
        fit_res = FitRes(
            status=Status(code=Code.OK, message="Success"),
            parameters=self.parameters,
            num_examples=self.num_examples,
            metrics={},
        )
        return Message(compat.fitres_to_recorddict(fit_res, True), reply_to=message)

    def handle(self, message: Message) -> Message:
        """Process one server instruction and return the reply."""
        return secaggplus_mod(message, self.context, self.fit)


class SequentialGrid(Grid):
    """In-process Grid that runs each destination client in turn.

    Clients in ``dropped`` do not reply in the stages listed in
    ``STAGES_SKIPPED_BY_DROPPED``, as if they had gone offline. With
    ``timeout=None`` the real Grid would wait for them forever, so this grid
    returns without their replies instead, as a real Grid does on timeout.
    """

    def __init__(self, clients: dict[int, SimulatedClient], dropped: set[int]):
        self.clients = clients
        self.dropped = dropped
        self.stage_times: dict[str, StageTimes] = defaultdict(StageTimes)
        self._replies: dict[str, Message] = {}
        self._run = Run.create_empty(RUN_ID)

    def set_run(self, run: Run) -> None:
        self._run = run

    @property
    def run(self) -> Run:
        return self._run

    def create_message(  # pylint: disable=too-many-arguments,R0917
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.clients)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        """Deliver each message to its client now and store the reply."""
        message_ids = []
        for message in messages:
            # The SuperLink assigns message IDs. Flower's InMemoryGrid sets the
            # same private field because Metadata has no setter for it.
            message_id = str(uuid4())
            message.metadata.__dict__["_message_id"] = message_id
            message_ids.append(message_id)

            stage = stage_of(message)
            node_id = message.metadata.dst_node_id
            if node_id in self.dropped and stage in STAGES_SKIPPED_BY_DROPPED:
                continue
            times = self.stage_times[stage]

            start = time.perf_counter()
            delivered = copy_over_wire(message)
            delivered_at = time.perf_counter()
            reply = self.clients[node_id].handle(delivered)
            handled_at = time.perf_counter()
            self._replies[message_id] = copy_over_wire(reply)
            end = time.perf_counter()

            times.transport += (delivered_at - start) + (end - handled_at)
            times.clients += handled_at - delivered_at
            times.replies += 1
        return message_ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        """Return and forget the stored replies to the given messages."""
        replies = []
        for message_id in message_ids:
            reply = self._replies.pop(message_id, None)
            if reply is not None:
                replies.append(reply)
        return replies

    def send_and_receive(
        self,
        messages: Iterable[Message],
        *,
        timeout: float | None = None,
    ) -> Iterable[Message]:
        return self.pull_messages(self.push_messages(messages))


def build_server_context(
    grid: SequentialGrid, num_clients: int, num_params: int
) -> LegacyContext:
    """Build the LegacyContext that ``SecAggPlusWorkflow`` reads.

    The fields match what Flower's DefaultWorkflow sets up before a fit round.
    """
    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=num_clients,
        min_available_clients=num_clients,
        fit_metrics_aggregation_fn=lambda _metrics: {},
    )
    client_manager = SimpleClientManager()
    for node_id in grid.get_node_ids():
        client_manager.register(GridClientProxy(node_id, grid, RUN_ID))

    base = Context(
        run_id=RUN_ID,
        node_id=SUPERLINK_NODE_ID,
        node_config={},
        state=RecordDict(),
        run_config={},
    )
    context = LegacyContext(base, strategy=strategy, client_manager=client_manager)

    global_model = ndarrays_to_parameters([np.zeros(num_params, dtype=np.float32)])
    context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
        global_model, True
    )
    context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord(
        {WorkflowKey.CURRENT_ROUND: 1}
    )
    return context


def run_stages(
    workflow: SecAggPlusWorkflow, grid: SequentialGrid, context: LegacyContext
) -> tuple[WorkflowState, dict[str, StageTimes], float]:
    """Run the four SecAgg+ stages in order and return state, times and CPU seconds."""
    state = WorkflowState()
    stages: list[tuple[str, Callable[..., bool]]] = [
        (Stage.SETUP, workflow.setup_stage),
        (Stage.SHARE_KEYS, workflow.share_keys_stage),
        (Stage.COLLECT_MASKED_VECTORS, workflow.collect_masked_vectors_stage),
        (Stage.UNMASK, workflow.unmask_stage),
    ]
    cpu_start = time.process_time()
    for stage, run_stage in stages:
        start = time.perf_counter()
        completed = run_stage(grid, context, state)
        grid.stage_times[stage].wall = time.perf_counter() - start
        if not completed:
            raise RuntimeError(
                f"Flower's SecAgg+ workflow halted in the {stage} stage. "
                "Its log above gives the reason, for example too few active "
                "neighbours for the reconstruction threshold."
            )
    cpu_seconds = time.process_time() - cpu_start
    return state, dict(grid.stage_times), cpu_seconds


def run_case(
    spec: CaseSpec, num_clients: int, num_params: int, seed: int
) -> CaseResult:
    """Set up clients and server for one case, run the protocol and check the sum."""
    # Flower's neighbour shuffle and FedAvg's client sampling use `random`, and its
    # stochastic rounding uses numpy's global generator. Key pairs and mask seeds
    # come from os.urandom and cannot be seeded.
    random.seed(seed)
    np.random.seed(seed)
    generator = np.random.default_rng(seed)

    workflow = SecAggPlusWorkflow(
        num_shares=spec.num_shares,
        reconstruction_threshold=reconstruction_threshold_for(spec.num_shares),
    )
    num_examples = int(workflow.max_weight)

    node_ids = [FIRST_NODE_ID + index for index in range(num_clients)]
    vectors = {
        node_id: generator.uniform(-1.0, 1.0, num_params).astype(np.float32)
        for node_id in node_ids
    }
    clients = {
        node_id: SimulatedClient(
            node_id, ndarrays_to_parameters([vectors[node_id]]), num_examples
        )
        for node_id in node_ids
    }
    num_dropped = round(spec.dropout_fraction * num_clients)
    dropped = set(random.Random(seed + 1).sample(node_ids, num_dropped))

    grid = SequentialGrid(clients, dropped)
    context = build_server_context(grid, num_clients, num_params)

    state, stage_times, cpu_seconds = run_stages(workflow, grid, context)

    result = CaseResult(
        spec=spec,
        stage_times=stage_times,
        cpu_seconds=cpu_seconds,
        num_shares=state.num_shares,
        threshold=state.threshold,
        clipping_range=state.clipping_range,
        quantization_range=state.quantization_range,
        mod_range=state.mod_range,
        max_weight=state.max_weight,
        dropped=sorted(dropped),
    )
    check_aggregate(result, context, vectors, dropped)
    return result


def check_aggregate(
    result: CaseResult,
    context: LegacyContext,
    vectors: dict[int, np.ndarray],
    dropped: set[int],
) -> None:
    """Compare Flower's unmasked aggregate with the plaintext sum of the survivors.

    Raises AssertionError when an element is off by more than the quantization bound.
    """
    aggregated = compat.arrayrecord_to_parameters(
        context.state.array_records[MAIN_PARAMS_RECORD], True
    )
    (mean,) = parameters_to_ndarrays(aggregated)

    survivors = [node_id for node_id in vectors if node_id not in dropped]
    survivor_vectors = [vectors[node_id] for node_id in survivors]
    plaintext_sum = np.sum(survivor_vectors, axis=0, dtype=np.float64)
    unmasked_sum = mean.astype(np.float64) * len(survivors)
    error = unmasked_sum - plaintext_sum

    step = 2.0 * result.clipping_range / result.quantization_range
    result.survivors = len(survivors)
    result.max_abs_sum_error = float(np.max(np.abs(error)))
    result.rms_sum_error = float(np.sqrt(np.mean(error**2)))
    result.sum_error_bound = len(survivors) * step
    assert result.max_abs_sum_error <= result.sum_error_bound, (
        f"case {result.spec.label}: max |unmasked sum - plaintext sum| = "
        f"{result.max_abs_sum_error:.3e} exceeds the quantization bound "
        f"{result.sum_error_bound:.3e}"
    )

    if dropped:
        # The dropped clients' vectors must not be in the sum, so the unmasked sum
        # should sit far further from the all-client sum than the bound allows.
        all_client_sum = np.sum(list(vectors.values()), axis=0, dtype=np.float64)
        gap = unmasked_sum - all_client_sum
        result.rms_gap_to_all_client_sum = float(np.sqrt(np.mean(gap**2)))
        assert result.rms_gap_to_all_client_sum > result.sum_error_bound, (
            f"case {result.spec.label}: the unmasked sum is within "
            f"{result.rms_gap_to_all_client_sum:.3e} (RMS) of the sum that includes "
            "the dropped clients, so their vectors were not excluded"
        )


def describe_machine() -> str:
    """Return the CPU model and core count from /proc/cpuinfo where available."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs"


def load_average_line() -> str:
    """Return the output of `uptime`, or os.getloadavg() if uptime is missing."""
    try:
        completed = subprocess.run(
            ["uptime"], capture_output=True, text=True, check=True
        )
        return completed.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        load_1min, load_5min, load_15min = os.getloadavg()
        return f"load average: {load_1min:.2f}, {load_5min:.2f}, {load_15min:.2f}"


def power_of_two_text(value: int) -> str:
    """Return ``value`` with its base-2 exponent when it is a power of two."""
    if value > 0 and value & (value - 1) == 0:
        return f"{value} (2^{value.bit_length() - 1})"
    return str(value)


def print_result(result: CaseResult, num_clients: int, num_params: int) -> None:
    """Print the parameters, per-stage times and the correctness check of one case."""
    spec = result.spec
    print(f"  n={num_clients} params={num_params} (float32 per client)")
    print(
        f"  num_shares={result.num_shares} reconstruction_threshold={result.threshold} "
        f"modulus_range={power_of_two_text(result.mod_range)} "
        f"quantization_range={power_of_two_text(result.quantization_range)} "
        f"clipping_range={result.clipping_range} max_weight={result.max_weight}"
    )
    if result.dropped:
        print(
            f"  dropout={spec.dropout_fraction:.0%} after share_keys "
            f"({len(result.dropped)} clients: {result.dropped})"
        )
    else:
        print("  dropout=0%")

    print(
        f"  {'stage':<24}{'wall_s':>10}{'clients_s':>11}{'server_s':>10}"
        f"{'proto_s':>9}{'replies':>9}"
    )
    total = StageTimes()
    for stage in Stage.all():
        times = result.stage_times[stage]
        print(
            f"  {stage:<24}{times.wall:>10.3f}{times.clients:>11.3f}"
            f"{times.server:>10.3f}{times.transport:>9.3f}{times.replies:>9}"
        )
        total.wall += times.wall
        total.clients += times.clients
        total.transport += times.transport
        total.replies += times.replies
    print(
        f"  {'total':<24}{total.wall:>10.3f}{total.clients:>11.3f}"
        f"{total.server:>10.3f}{total.transport:>9.3f}{total.replies:>9}"
    )
    print(f"  process CPU time: {result.cpu_seconds:.3f} s")

    print(
        f"  check: survivors={result.survivors} "
        f"max|unmasked sum - plaintext sum|={result.max_abs_sum_error:.3e} "
        f"rms={result.rms_sum_error:.3e} bound={result.sum_error_bound:.3e} OK"
    )
    if result.rms_gap_to_all_client_sum is not None:
        print(
            "  check: rms(unmasked sum - sum including dropped clients)="
            f"{result.rms_gap_to_all_client_sum:.3e}, "
            "so the dropped vectors are excluded"
        )


def build_cases(num_clients: int) -> dict[str, CaseSpec]:
    """Return the benchmark cases keyed by label."""
    return {
        "a": CaseSpec("a", "sparse graph, no dropout", SPARSE_NUM_SHARES, 0.0),
        "b": CaseSpec(
            "b",
            "sparse graph, 10% drop after share_keys",
            SPARSE_NUM_SHARES,
            DROPOUT_FRACTION,
        ),
        "c": CaseSpec("c", "all-to-all, no dropout", num_clients, 0.0),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--clients", type=int, default=100, help="number of clients (default 100)"
    )
    parser.add_argument(
        "--params",
        type=int,
        default=100_000,
        help="float32 parameters per client (default 100000)",
    )
    parser.add_argument(
        "--cases",
        default="abc",
        help="cases to run, any subset of 'abc' (default abc)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs of each case in this process; the median total is printed (default 1)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for the client vectors, neighbour graph and dropped clients",
    )
    args = parser.parse_args()
    if args.clients < SPARSE_NUM_SHARES:
        parser.error(
            f"--clients must be at least {SPARSE_NUM_SHARES}, got {args.clients}"
        )
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    unknown = set(args.cases) - set("abc")
    if unknown:
        parser.error(f"invalid --cases {args.cases!r}: use only the letters a, b and c")
    return args


def main() -> None:
    args = parse_args()
    # Flower logs each stage at INFO. Keep its warnings, such as overflow risks.
    logging.getLogger("flwr").setLevel(logging.WARNING)

    TaskIdentity.task_id = 1
    TaskIdentity.run_id = RUN_ID
    TaskIdentity.node_id = SUPERLINK_NODE_ID

    print(
        f"flwr {flwr.__version__}, numpy {np.__version__}, "
        f"pycryptodome {version('pycryptodome')}, "
        f"cryptography {version('cryptography')}, Python {sys.version.split()[0]}"
    )
    print(f"machine: {describe_machine()}")
    print(
        "all clients run one after another in this process, "
        "and times are wall-clock seconds"
    )

    cases = build_cases(args.clients)
    medians = []
    for label in args.cases:
        spec = cases[label]
        totals = []
        for repeat in range(args.repeats):
            print()
            run_note = f" (run {repeat + 1} of {args.repeats})" if args.repeats > 1 else ""
            print(f"case {label}: {spec.description}{run_note}")
            print(f"  uptime before: {load_average_line()}")
            result = run_case(spec, args.clients, args.params, args.seed)
            print_result(result, args.clients, args.params)
            totals.append(
                sum(result.stage_times[stage].wall for stage in Stage.all())
            )
        medians.append((label, statistics.median(totals), totals))
    if args.repeats > 1:
        print()
        for label, median, totals in medians:
            runs = ", ".join(f"{total:.3f}" for total in totals)
            print(f"case {label}: median total {median:.3f} s (runs {runs})")
    print()
    print(f"uptime after: {load_average_line()}")


if __name__ == "__main__":
    main()
