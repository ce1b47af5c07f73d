"""Open-loop replay of a recorded run's traffic on gem5 (the time-sampling validation, docs/gem5.md):
``gem5.opt gem5_configs/replay_traffic.py --recording FILE --window-us W [--lead-in-us L] [--epochs N] --out FILE``.

Builds the board ``run_ailfm.py`` builds for the recording's system, warms the LLC as it does (``--warm-us`` of the
recorded run), then sends every recorded step, each in a window of ``dt x W / epoch`` at the step's rates, exactly as
``Gem5Engine`` does in a closed loop (``sampling.replay``), each epoch's first after a lead-in of L us whose counters
are discarded, with the recorded run's traffic jitter. Nothing feeds back: the same recording replayed at several
windows sends the same rates, so the windows' counters compare directly.
Writes every step's counters (``sampling.write_replay``), rewritten whole after every epoch (its ``epochs_done``), so a
replay cut short keeps the epochs it finished, and beside them (``sampling.cpu_path``) the process's CPU seconds when
the replay starts (board built, LLC warmed) and after each epoch. Site-packages as for run_ailfm.py.
"""


def main(argv: list[str]) -> int:
    import time

    import numpy as np

    from ailfm.files import write_json_atomic
    from ailfm.gem5_configs.calibration import warm_traffic
    from ailfm.gem5_configs.components.backend import run_on_simulator
    from ailfm.gem5_configs.components.board import SnucaBoard
    from ailfm.gem5_configs.epoch import AddressMap, TileQueues, seconds_to_ticks
    from ailfm.gem5_configs.sampling import cpu_path, prepare_replay, replay, write_replay
    from ailfm.plugins.engine.gem5 import JitteredBackend

    run = prepare_replay(argv)  # every option and file checked before gem5 builds anything
    recording, system, info = run.recording, run.system, run.recording.info
    queues = TileQueues(system.n_cores)
    amap = AddressMap.for_system(system, recording.n_threads)
    board = SnucaBoard(system, amap.memory_bytes(), queues)

    cpu = {"start_s": None, "after_epoch_s": []}  # process CPU seconds (gem5 is one process)

    def stream(counters, epochs_done):  # the file grows epoch by epoch: a replay cut short keeps what it measured
        path = write_replay(run.args.out, counters, recording, run.window_s, {**run.source, "epochs_done": epochs_done})
        cpu["after_epoch_s"].append(time.process_time())
        write_json_atomic(cpu_path(run.args.out), cpu)
        print(f"wrote {path} ({epochs_done} of {run.source['epochs']} epochs, {cpu['after_epoch_s'][-1]:.0f} CPU s)",
              flush=True)

    def send(backend):
        """The recording, window by window, with gem5 behind ``backend`` (run_ailfm.py's warm-up first)."""
        if info["warm_us"] > 0:  # as run_ailfm.py: thread t's resident data, read from tile t
            warm_s = info["warm_us"] * 1e-6
            backend.run_epoch(warm_traffic(system, amap, np.arange(recording.n_threads), warm_s),
                              seconds_to_ticks(warm_s))
        cpu["start_s"] = time.process_time()
        if info["traffic_jitter"]:
            backend = JitteredBackend(backend, info["traffic_jitter"])
        replay(recording, backend, amap, system.n_cores, run.window_s, run.source["epochs"], on_epoch=stream,
               lead_in_s=run.args.lead_in_us * 1e-6)

    run_on_simulator(board, queues, send)
    return 0


if __name__ == "__m5_main__":
    from sitepaths import run_script  # gem5_configs/ is first on sys.path

    run_script(main, __file__)
