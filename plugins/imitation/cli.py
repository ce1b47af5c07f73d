"""``ailfm ail train``: Oracle demonstrations + (active) DAgger -> an ONNX policy, resumable, on a pool or Dask."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from ailfm import options
from ailfm.errors import ConfigError
from ailfm.files import prepare_output_folder, run_lock, write_atomic
from ailfm.pools import dask_client


def add_subcommands(subparsers) -> None:
    ail = subparsers.add_parser("ail", help="AILFM imitation learning: train an ONNX governor from the Oracle")
    commands = ail.add_subparsers(dest="ail_command", required=True, metavar="COMMAND")
    train = commands.add_parser("train", help="Oracle roll-outs + DAgger/active DAgger/BC, then export to ONNX "
                                              "(bench/ail_reproduce.py gives the options of each shipped "
                                              "policy and retrains it)")
    from ailfm.plugins.imitation.contract import VF_RULES
    from ailfm.plugins.imitation.dagger import METHODS, TrainConfig
    from ailfm.plugins.imitation.objective import OBJECTIVES

    d = TrainConfig()
    train.add_argument("--out", required=True, help="run folder (checkpoints: manifest.json, shards/)")
    train.add_argument("--method", choices=METHODS, default=d.method)
    train.add_argument("--system", default=d.system,
                       help="shipped system name or YAML path; several comma-separated: each roll-out draws one")
    train.add_argument("--workloads", default=",".join(d.workloads), help="comma-separated training models")
    train.add_argument("--iterations", type=options.POSITIVE, default=d.iterations)
    train.add_argument("--rollouts", type=options.POSITIVE, default=d.rollouts, help="roll-outs per iteration")
    train.add_argument("--epochs", type=options.POSITIVE, default=d.epochs,
                       help="epochs per roll-out after the warm-up")
    train.add_argument("--warmup-epochs", type=_epoch_range, default=d.warmup_epochs, metavar="MIN,MAX",
                       help="each roll-out first runs 'performance' for a number of epochs drawn from MIN..MAX "
                            f"(default {d.warmup_epochs[0]},{d.warmup_epochs[1]}); MIN 0 lets the policy see cold "
                            "starts")
    train.add_argument("--lengths", default=d.lengths,
                       help="the roll-outs' request lengths, as 'ailfm simulate --lengths' (azure-code, azure-conv, "
                            "fixed:P,O or a CSV with arrivals; each roll-out's seed picks its window of a trace); "
                            "several ';'-separated: each roll-out draws one")
    train.add_argument("--requests", type=options.POSITIVE, default=d.requests, help="requests per roll-out")
    train.add_argument("--threshold", type=options.number(0), default=d.threshold,
                       help="active: ensemble spread to query at")
    train.add_argument("--validation", type=options.NON_NEGATIVE, default=d.validation,
                       help="validation scenarios per iteration")
    train.add_argument("--objective", choices=OBJECTIVES, default=d.oracle.objective,
                       help="what the Oracle maximises over its look-ahead (its labels) and validation measures; "
                            "recorded in the policy file")
    train.add_argument("--learn-placement", action="store_true",
                       help="the Oracle also labels each roll-out's initial placement (the best of coolest, "
                            "lowest-latency and the driver's own) and the exported policy places the threads by its "
                            "scores (default: the coolest cores)")
    train.add_argument("--kernel-aware", action="store_true",
                       help="the Oracle also tries V/f that lowers first the cores whose instance's coming kernels "
                            "gain least from frequency (memory-bound), measured by its look-ahead")
    train.add_argument("--vf-rule", choices=VF_RULES, default=d.vf_rule,
                       help="how the policy's V/f output becomes requests, in roll-outs and in the exported file: "
                            "each core its own (per-core) or every running thread of an instance its instance's mean "
                            "(per-instance: the threads meet at barriers)")
    train.add_argument("--fmax-target", type=options.number(1.0, 2.0), default=d.fmax_target, metavar="FRACTION",
                       help="regression target of an f_max label (default 1.0); above 1, an output that errs low by "
                            "up to the excess still rounds to f_max")
    train.add_argument("--seed", type=options.SEED, default=d.seed)
    train.add_argument("--export", default=None, help="ONNX file to write (default OUT/policy.onnx)")
    train.add_argument("--jobs", type=options.WORKERS, default=None, help="local worker processes (default: all cores)")
    train.add_argument("--dask", metavar="ADDRESS", default=None, help="run on the Dask scheduler at ADDRESS")
    train.add_argument("--max-new-shards", type=options.NON_NEGATIVE, default=None, help=argparse.SUPPRESS)
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=_train)


def _epoch_range(text: str) -> tuple[int, int]:
    """``MIN,MAX`` epochs, 0 <= MIN <= MAX."""
    parts = text.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts) or int(parts[0]) > int(parts[1]):
        raise argparse.ArgumentTypeError(f"need MIN,MAX with integers 0 <= MIN <= MAX, got {text!r}")
    return int(parts[0]), int(parts[1])


def _train(args: argparse.Namespace) -> int:
    from ailfm.plugins.imitation.dagger import Checkpoint, Interrupted, TrainConfig, best_iteration, train
    from ailfm.plugins.imitation.oracle import OracleConfig
    from ailfm.plugins.imitation.policy import to_onnx

    workloads = tuple(w.strip() for w in args.workloads.split(",") if w.strip())
    if not workloads:
        raise ConfigError("workloads", "name at least one training workload")
    oracle = OracleConfig(objective=args.objective, learn_placement=args.learn_placement,
                          kernel_aware=args.kernel_aware)
    config = TrainConfig(method=args.method, system=args.system, workloads=workloads, iterations=args.iterations,
                         rollouts=args.rollouts, epochs=args.epochs, warmup_epochs=args.warmup_epochs,
                         lengths=args.lengths, requests=args.requests, threshold=args.threshold,
                         validation=args.validation, seed=args.seed, vf_rule=args.vf_rule,
                         fmax_target=args.fmax_target, oracle=oracle)
    out = prepare_output_folder(args.out)
    with run_lock(out):
        checkpoint = Checkpoint(out, config)
        try:
            if args.dask:
                with dask_client(args.dask) as client:
                    _, record = train(config, checkpoint, client.get_executor(), progress=not args.quiet,
                                      max_new_shards=args.max_new_shards)
            else:
                _, record = train(config, checkpoint, max_workers=args.jobs, progress=not args.quiet,
                                  max_new_shards=args.max_new_shards)
        except Interrupted as stop:
            print(f"ailfm ail train: {stop}; run the same command again to resume", file=sys.stderr)
            return 3
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"the finished roll-outs are kept in {out / 'shards'}: run the same command "
                                    "again to resume") from None
        chosen = best_iteration(record) if config.validation else config.iterations - 1
        ensemble = checkpoint.ensemble(chosen)
    export = Path(args.export or Path(args.out) / "policy.onnx")
    export.parent.mkdir(parents=True, exist_ok=True)
    command = "ailfm " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else "ailfm ail train"
    training = f"{command}; iteration {chosen}; config {json.dumps(config.to_json())}"
    write_atomic(export, to_onnx(ensemble.policy, training, config.oracle.objective,
                                 "scores" if config.oracle.learn_placement else "coolest", config.vf_rule))
    for iteration, values in sorted(record.items(), key=lambda kv: int(kv[0])):
        print(f"iteration {iteration}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                                     for k, v in values.items()))
    print(f"wrote {export} (the policy of iteration {chosen}, best on validation)")
    return 0
