"""AILFM on gem5: ``gem5.opt gem5_configs/run_ailfm.py --system S --workload W --governor G --epochs N --out DIR``.

Needs a gem5 v24 ``NULL_MESI_Two_Level`` build (NULL ISA, Ruby MESI_Two_Level; see docs/gem5.md), with
``hooks/dvfs-python-setter.patch`` applied for ``--dvfs domains``. The recipe: load the system YAML and the workload
exactly as ``ailfm simulate`` does; build the board (trace-driven tiles, the S-NUCA hierarchy on the project's
3D-mesh Garnet network, memory channels at the die edge, a clock domain per tile); hand it to gem5's stdlib
``Simulator``, which runs the project's co-simulation loop window by window (``components/backend.py``,
``run_on_simulator``): ``Gem5Engine`` asks gem5 for one window per thermal sub-step; power, thermal model, DTM and
the governor (ONNX ones included) are the project's own. Writes ``summary.json`` and ``timeline.parquet`` (as ``ailfm
simulate``) and ``gem5_epochs.parquet`` into ``--out``.

gem5's embedded Python may ignore ``PYTHONPATH`` and never activates a virtual environment, so the script adds
site-packages itself (``sitepaths.py``): the directory in ``AILFM_SITE_PACKAGES`` if set, else the repository's
``.venv``. ``gem5.opt -p <site-packages>`` works too.
"""

import time


def main(argv: list[str]) -> int:
    from functools import partial

    import numpy as np

    from ailfm.gem5_configs.calibration import warm_traffic
    from ailfm.gem5_configs.clock_domains import DVFS_MECHANISMS, perf_levels
    from ailfm.gem5_configs.components.backend import gem5_version, run_on_simulator
    from ailfm.gem5_configs.components.board import SnucaBoard
    from ailfm.gem5_configs.epoch import AddressMap, TileQueues, read_fractions, seconds_to_ticks
    from ailfm.gem5_configs.recipe import prepare_run, recording_info, workload_model, write_outputs
    from ailfm.gem5_configs.sampling import TrafficRecorder, write_recording
    from ailfm.plugins.engine.gem5 import Gem5Engine, JitteredBackend
    from ailfm.plugins.epoch.chip_thermal import build_thermal
    from ailfm.plugins.epoch.cosim import CoSimulation

    run = prepare_run(argv)  # every option and file checked before gem5 builds anything
    args, system, config, workload, governor = run.args, run.system, run.config, run.workload, run.governor
    epoch_s = system.thermal.epoch_s
    window_s = min(args.window_us * 1e-6, epoch_s) if args.window_us else None
    fractions = read_fractions(workload_model(config), workload.kernel_type_names)
    follow_governor = args.dvfs == "domains"

    queues = TileQueues(system.n_cores)
    amap = AddressMap.for_system(system, workload.n_threads)
    board = SnucaBoard(system, amap.memory_bytes(), queues, follow_governor=follow_governor)

    # --record-traffic (time-sampling validation, docs/gem5.md): every step's traffic, for open-loop replays
    recorder = TrafficRecorder(recording_info(args, config, system, window_s)) if args.record_traffic else None

    def cosimulate(backend):
        """The co-simulation, with gem5 behind ``backend`` (run in the loop's thread)."""
        if args.warm_us > 0:  # thread t's resident data, read from tile t: the LLC holds it whichever tile runs t
            warm_s = args.warm_us * 1e-6
            backend.run_epoch(warm_traffic(system, amap, np.arange(workload.n_threads), warm_s),
                              seconds_to_ticks(warm_s))
        if args.traffic_jitter:
            backend = JitteredBackend(backend, args.traffic_jitter)
        engine = Gem5Engine(system, workload, backend, fractions, window_s=window_s, recorder=recorder,
                            lead_in_s=args.lead_in_us * 1e-6)
        sim = CoSimulation(system, engine, build_thermal(system, config.thermal, cells=config.grid_cells), governor,
                           thread_instance=workload.thread_instance, kernel_type_names=workload.kernel_type_names,
                           request_arrival_s=workload.request_arrival_s, placement=config.placement)
        start = time.perf_counter()
        result = sim.run(config.duration_s)
        return engine, result, time.perf_counter() - start

    engine, result, wall_s = run_on_simulator(board, queues, cosimulate,
                                              partial(perf_levels, system) if follow_governor else None)
    extra = {"engine": "gem5", "dvfs": args.dvfs, "dvfs_mechanism": DVFS_MECHANISMS[args.dvfs],
             "traffic_jitter": args.traffic_jitter, "gem5_wall_s_per_epoch": wall_s / max(len(result.epochs), 1),
             "gem5_window_s": window_s or epoch_s, "gem5_lead_in_s": args.lead_in_us * 1e-6,
             "gem5_version": gem5_version()}
    for path in write_outputs(args.out, result, config, engine.counters, extra, window_s):
        print(f"wrote {path}")
    if recorder is not None:
        print(f"wrote {write_recording(args.record_traffic, recorder)}")
    return 0


if __name__ == "__m5_main__":
    from sitepaths import run_script  # gem5_configs/ is first on sys.path

    run_script(main, __file__)
