"""Held-out evaluation of the AIL policies against the Oracle, the shielded ablations and every baseline.

``ailfm compare`` with oracle, ail, the shielded ablations and every baseline on held-out workloads and systems,
over several seeds and request mixes, with energy beside throughput (issues 4 and 17).

Leave-one-model-out: the shipped policies were trained without Llama-3-8B and ViT-L/16; both are evaluated on the
default system (snuca-64) and on the second system description (snuca-64-2l: 2 layers of 8x4 tiles; ``ail-edp`` was
not trained on it, ``ail`` was, to learn its initial placement there). The ablations ``shielded-performance`` and
``shielded-ondemand`` run ``ail``'s own shield from the coolest cores with requests that learned nothing, so ``ail``
against them is what the learning adds (its V/f, moves and initial placement).

Scenarios (``--scenarios mixes``, the default): 3 instances x 16 threads serving 3 requests, a window of the Azure
LLM inference trace 2023 picked by the seed (seeds 0, 1, 2) with its recorded arrival times (0-0.63 s apart in these
windows), from two mixes: ``code`` (long prompts, short outputs: prefill-heavy) and ``conv`` (decode-heavy). Prompt
lengths are divided by ``PROMPT_SCALE`` and output lengths by ``OUTPUT_SCALE`` (rounded up) so that one run takes
0.7-2 s of simulated time and the Oracle (60-180 ms per decision) finishes; the mixes keep the traces' shapes and
arrivals, not their sizes. ViT-L/16 ignores the lengths (fixed-size images): only the arrivals vary. The scaled mixes
are written to ``OUT/mixes/``. ``--scenarios single`` is the previous single scenario (3 requests of 4 + 2 tokens,
arriving together).

Every (system, workload, mix) runs ``ailfm compare`` commands (printed), each with every seed of ``--seeds``:
``oracle`` (slow), ``baselines`` (classic baselines and the ablations) and, in the ``ail`` part, one per policy of
``--policies`` (folder named after the policy), so the Oracle need not be rerun when a policy changes or one is
added. A subset of the seeds writes to a folder named after it (``oracle-seed0``): the Oracle can be run on the
scenarios a loaded machine affords. A command whose folder exists is skipped (resume); each writes into a temporary
folder renamed when it ends. Throughput is tokens/s for the language models and requests/s (requests /
makespan) for ViT, which produces no tokens; work per joule likewise tokens/J or requests/J; EDP is energy x makespan.
Writes ``runs.csv`` (every run), ``summary.csv`` and ``ail_eval.md`` (mean and spread per system, workload and
governor over the seeds and mixes, and each governor's throughput relative to ``shielded-performance`` on the same
scenario: the paired measure that tells a few per cent from the scenarios' own spread), ``summary_by_mix.csv`` (the
same per mix, the spread then over the seeds only), ``edp_vs_baselines.csv`` (each policy's EDP against every
thermally safe baseline of ``EDP_BASELINES``, paired per scenario), ``oracle_headroom.csv`` (the Oracle and the
policies against ``shielded-performance`` on each scenario the Oracle ran), ``headline.md`` (the README's table) and
the comparison plots of each command.

    .venv/bin/python bench/ail_eval.py --out bench/results/ail/eval [--part reference|ail|table|all] [--jobs 2]
        [--policies ail,ail-edp] [--seeds 0] [--mixes code] [--systems snuca-64] [--workloads vit-l-16]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SYSTEMS = ("snuca-64", "snuca-64-2l")
WORKLOADS = ("llama-3-8b", "vit-l-16")
BASELINES = ("performance", "powersave", "ondemand", "conservative", "tsp", "pcgov", "coldest-core", "pcmig")
ABLATIONS = ("shielded-performance", "shielded-ondemand")
#: What every governor's throughput is set against, scenario by scenario (the learning's contribution).
ABLATION_REFERENCE = "shielded-performance"
#: The thermally safe baselines an energy policy's EDP is held against (issue 17's acceptance); powersave beside them
#: because it is the classic low-energy point.
SAFE_EDP_BASELINES = ("pcgov", "tsp", "shielded-performance", "shielded-ondemand")
EDP_BASELINES = (*SAFE_EDP_BASELINES, "powersave")
#: The README's headline rows (those that ran), on the default system.
HEADLINE = ("oracle", "ail", "ail-edp", "shielded-performance", "shielded-ondemand", "pcgov", "tsp", "pcmig",
            "performance", "powersave")
#: the serving shape of every scenario, as ``RunConfig`` fields, and as ``ailfm compare`` options (``SERVING``)
SERVING_SCENARIO = {"requests": 3, "instances": 3, "threads": 16, "duration_s": 20.0}
SERVING = tuple(word for field, value in SERVING_SCENARIO.items()
                for word in ("--" + field.removesuffix("_s"), f"{value:g}"))
#: Azure 2023 trace samples shipped with ailfm (``ailfm/traces/data``) the mixes are made from.
MIX_SOURCES = {"code": "azure_code_sample.csv", "conv": "azure_conv_sample.csv"}
PROMPT_SCALE = 512  # Azure prompts are ~1000-2000 tokens: /512 gives 1-15 tokens
OUTPUT_SCALE = 128  # Azure outputs are ~10-400 tokens: /128 gives 1-4 (conv) and 1 (code): decode is ~0.3 s a token
SEEDS = (0, 1, 2)
SINGLE = {"fixed-4-2": "fixed:4,2"}  # the previous evaluation's only scenario (a fixed batch ignores the seed)


def write_mixes(out: Path) -> dict[str, str]:
    """The scaled Azure mixes as length files (recorded arrivals kept); name -> path."""
    from importlib import resources

    from ailfm.files import write_atomic
    from ailfm.traces.lengths import read_length_trace

    folder = out / "mixes"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, file in MIX_SOURCES.items():
        trace = read_length_trace(Path(str(resources.files("ailfm.traces.data") / file)))
        trace = trace.sort_values("arrival_s", kind="stable")  # the window the seed picks follows arrival order
        prompt = np.ceil(trace.prompt_tokens / PROMPT_SCALE).astype(int)
        output = np.ceil(trace.output_tokens / OUTPUT_SCALE).astype(int)
        stamps = pd.Timestamp("2023-11-16") + pd.to_timedelta(trace.arrival_s, unit="s")
        lines = [f"# {file} (Azure LLM inference trace 2023, Patel et al., ISCA 2024; CC-BY 4.0), prompts / "
                 f"{PROMPT_SCALE} and outputs / {OUTPUT_SCALE} rounded up (bench/ail_eval.py)",
                 "TIMESTAMP,ContextTokens,GeneratedTokens"]
        lines += [f"{t:%Y-%m-%d %H:%M:%S.%f},{p},{o}" for t, p, o in zip(stamps, prompt, output, strict=True)]
        path = folder / f"{name}.csv"
        write_atomic(path, ("\n".join(lines) + "\n").encode())
        paths[name] = str(path)
    return paths


def throughput(frame: pd.DataFrame) -> pd.Series:
    """Per run: tokens/s, or requests/s for a model that makes no tokens (ViT)."""
    return frame.tokens_per_s.where(frame.tokens > 0, frame.requests_per_s)


def compare(system: str, workload: str, lengths: str, seeds: tuple[int, ...], governors: list[str], out: Path,
            jobs: int, placement: str = "own") -> None:
    """One ``ailfm compare`` into ``out`` (skipped when ``out`` exists: resume); ``placement``: its ``--placement``."""
    if (out / "comparison.csv").is_file():
        print(f"# done: {out}", flush=True)
        return
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [str(Path(sys.executable).with_name("ailfm")), "compare", "--system", system, "--workload", workload,
               "--lengths", lengths, *SERVING, "--seeds", ",".join(map(str, seeds)), "--governors",
               ",".join(governors), "--placement", placement, "--out", str(partial), "--jobs", str(jobs), "--quiet"]
    print("$ " + " ".join(command[1:]).replace(str(Path(sys.executable).parent) + "/", ""), flush=True)
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    os.replace(partial, out)
    print(f"# {time.perf_counter() - start:.0f} s wall", flush=True)


def group_folder(name: str, seeds: tuple[int, ...], all_seeds: tuple[int, ...]) -> str:
    """The folder of one command: the group or policy (an .onnx path by its stem), and the seeds when a subset."""
    folder = Path(name).stem if name.endswith(".onnx") else name
    return folder if set(seeds) == set(all_seeds) else folder + "-seed" + "-".join(map(str, seeds))


def runs(out: Path, mixes: dict[str, str]) -> pd.DataFrame:
    """Every run found under ``out``: one row per (system, workload, mix, seed, governor)."""
    frames = []
    for system in SYSTEMS:
        for workload in WORKLOADS:
            for mix in mixes:
                for path in sorted((out / system / workload / mix).glob("*/comparison.csv")):
                    if path.parent.name.endswith(".partial"):
                        continue
                    frame = pd.read_csv(path)
                    timing = path.with_name("timing.csv")  # the wall-clock columns, same rows
                    if timing.is_file():
                        frame = pd.concat([frame, pd.read_csv(timing).drop(columns=["governor", "seed"],
                                                                            errors="ignore")], axis=1)
                    frames.append(frame.assign(mix=mix))
    if not frames:
        raise SystemExit(f"ail_eval: no comparison.csv under {out}: run --part reference and --part ail first")
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.drop_duplicates(["system", "workload", "mix", "seed", "governor"], keep="last")
    tokens = frame.tokens > 0
    frame["throughput"] = throughput(frame)
    frame["work_per_j"] = frame.tokens_per_j.where(tokens, frame.requests_per_j)
    frame["unit"] = np.where(tokens, "tokens", "requests")
    scenario = ["system", "workload", "mix", "seed"]
    for reference, column in (("oracle", "vs_oracle"), (ABLATION_REFERENCE, "vs_ablation")):
        base = frame[frame.governor == reference].set_index(scenario).throughput
        frame[column] = [t / base.get(key, math.nan) for key, t in
                         zip(frame[scenario].itertuples(index=False, name=None), frame.throughput, strict=True)]
    return frame


def busy_frequency(out: Path) -> pd.DataFrame:
    """Per run: the mean effective frequency of the cores running a thread's kernel, their share of epochs at
    f_max, and the spread of their frequencies within an epoch (standard deviation, mean over epochs: threads that
    meet at barriers go at the slowest one's pace, so spread is energy spent for nothing). ``f_max / busy_f_GHz``
    bounds what any V/f policy could add at that placement: time is cycles / f plus memory stalls that do not shrink
    with f, so a run cannot speed up by more than its cores' frequency can."""
    from ailfm.plugins.system.description import load_system

    rows = []
    for path in out.glob("*/*/*/*/runs/*/summary.json"):
        if path.parts[-4].endswith(".partial"):
            continue
        config = json.loads(path.read_text())["config"]
        timeline = pd.read_parquet(path.with_name("timeline.parquet"), columns=["epoch", "thread", "kernel",
                                                                                "f_effective_GHz"])
        running = timeline[(timeline.thread >= 0) & (timeline.kernel != "idle")]
        busy = running.f_effective_GHz
        f_max = load_system(config["system"]).dvfs.f_max_GHz
        rows.append({"system": config["system"], "workload": config["workload"], "mix": path.parts[-5],
                     "seed": config["seed"], "governor": config["governor"], "busy_f_GHz": busy.mean(),
                     "busy_at_fmax": (busy >= f_max - 1e-9).mean(), "fmax_bound": f_max / busy.mean() - 1,
                     "busy_f_spread_GHz": busy.groupby(running.epoch).std(ddof=0).mean()})
    return pd.DataFrame(rows).drop_duplicates(["system", "workload", "mix", "seed", "governor"], keep="last")


def summary(frame: pd.DataFrame, keys: tuple[str, ...] = ("system", "workload", "governor")) -> pd.DataFrame:
    """Mean and spread over the scenarios (seeds x mixes) per (system, workload, governor), or per ``keys``."""
    group = frame.groupby(list(keys), sort=False)
    table = group.agg(scenarios=("throughput", "size"), unit=("unit", "first"),
                      throughput_mean=("throughput", "mean"), throughput_std=("throughput", "std"),
                      throughput_min=("throughput", "min"), throughput_max=("throughput", "max"),
                      vs_oracle_mean=("vs_oracle", "mean"),
                      vs_ablation_mean=("vs_ablation", "mean"), vs_ablation_std=("vs_ablation", "std"),
                      vs_ablation_min=("vs_ablation", "min"), vs_ablation_max=("vs_ablation", "max"),
                      work_per_j_mean=("work_per_j", "mean"), work_per_j_std=("work_per_j", "std"),
                      edp_mean=("edp", "mean"), edp_std=("edp", "std"),
                      energy_j_mean=("energy_j", "mean"),
                      time_above_tmax_s_max=("time_above_tmax_s", "max"), peak_temp_c_max=("peak_temp_c", "max"),
                      dtm_events_mean=("dtm_events", "mean"), migrations_mean=("migrations", "mean"),
                      busy_f_GHz_mean=("busy_f_GHz", "mean"), busy_f_spread_GHz_mean=("busy_f_spread_GHz", "mean"),
                      fmax_bound_mean=("fmax_bound", "mean"),
                      fmax_bound_max=("fmax_bound", "max"),
                      us_per_decision=("governor_us_per_decision", "median"))
    return table.reset_index()


def _pm(mean: float, std: float, digits: str = ".4g") -> str:
    return f"{mean:{digits}}" if not np.isfinite(std) else f"{mean:{digits}} ± {std:{digits}}"


def markdown(table: pd.DataFrame) -> str:
    header = ["system", "workload", "governor", "n", "throughput (mean ± std)", "min-max", "unit/s", "vs oracle",
              f"vs {ABLATION_REFERENCE} (mean, min-max)", "per J (mean ± std)", "EDP J·s (mean ± std)",
              "max s > T_max", "peak C"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in table.itertuples(index=False):
        lines.append("| " + " | ".join([
            r.system, r.workload, r.governor, str(r.scenarios), _pm(r.throughput_mean, r.throughput_std),
            f"{r.throughput_min:.4g}-{r.throughput_max:.4g}", r.unit, f"{r.vs_oracle_mean:.1%}",
            f"{r.vs_ablation_mean - 1:+.1%} ({r.vs_ablation_min - 1:+.1%} to {r.vs_ablation_max - 1:+.1%})",
            _pm(r.work_per_j_mean, r.work_per_j_std), _pm(r.edp_mean, r.edp_std),
            f"{r.time_above_tmax_s_max:.3g}", f"{r.peak_temp_c_max:.2f}"]) + " |")
    return "\n".join(lines)


def headline(table: pd.DataFrame, system: str = SYSTEMS[0]) -> str:
    """The README's table: per governor of ``HEADLINE``, both held-out models side by side on ``system``, means over
    the scenarios (throughput, paired gain over the ablation, work per joule, EDP) and the worst time above T_max."""
    table = table[table.system == system].set_index(["workload", "governor"])
    workloads = [w for w in WORKLOADS if w in table.index.get_level_values(0)]
    header = ["governor"]
    for workload in workloads:
        unit = "tokens" if table.loc[workload].unit.iloc[0] == "tokens" else "req"
        header += [f"{workload} {unit}/s", "vs shielded-perf.", f"{unit}/J", "EDP J·s", "max s > T_max"]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for governor in HEADLINE:
        if not all((w, governor) in table.index for w in workloads):
            continue
        cells = [f"**{governor}**" if governor == "ail" else governor]
        for workload in workloads:
            r = table.loc[(workload, governor)]
            key = (workload, ABLATION_REFERENCE)
            reference = table.loc[key] if key in table.index else r
            n = f" ({r.scenarios})" if r.scenarios != reference.scenarios else ""
            cells += [f"{r.throughput_mean:.3f}{n}", f"{r.vs_ablation_mean - 1:+.1%}", f"{r.work_per_j_mean:.4f}",
                      f"{r.edp_mean:.1f}", f"{r.time_above_tmax_s_max:.2g}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts(frame: pd.DataFrame, policies: list[str]) -> list[str]:
    """Per (system, workload) and policy: the gain over the ablation with its spread, safety, the best safe baseline
    by throughput and by EDP."""
    lines = []
    scenario = ["mix", "seed"]
    for (system, workload), group in frame.groupby(["system", "workload"], sort=False):
        safe = group.groupby("governor").time_above_tmax_s.max() == 0
        means = group.groupby("governor")[["throughput", "edp"]].mean()
        others = [g for g in (*BASELINES, *ABLATIONS) if g in means.index and safe.get(g, False)]
        for policy in policies:
            runs_ = group[group.governor == policy].set_index(scenario)
            if runs_.empty:
                continue
            gain = runs_.vs_ablation - 1
            best_t = means.loc[others].throughput.idxmax() if others else None
            best_e = means.loc[others].edp.idxmin() if others else None
            line = (f"{system} / {workload} / {policy}: vs {ABLATION_REFERENCE} {gain.mean():+.1%} "
                    f"(min {gain.min():+.1%}, max {gain.max():+.1%}, std {gain.std():.1%}, n {len(gain)}); "
                    f"{runs_.vs_oracle.mean():.1%} of the Oracle; max {runs_.time_above_tmax_s.max():g} s above T_max")
            if best_t is not None:
                line += (f"; best safe baseline by throughput {best_t} ({means.throughput[best_t]:.4g} vs "
                         f"{means.throughput[policy]:.4g}), by EDP {best_e} ({means.edp[best_e]:.4g} vs "
                         f"{means.edp[policy]:.4g} J·s)")
            lines.append(line)
    return lines


def _paired(frame: pd.DataFrame, governor: str, column: str) -> pd.Series:
    """``column`` of ``governor``'s runs indexed by scenario (system, workload, mix, seed)."""
    return frame[frame.governor == governor].set_index(["system", "workload", "mix", "seed"])[column]


def edp_vs_baselines(frame: pd.DataFrame, policies: list[str]) -> pd.DataFrame:
    """Each policy's EDP against each baseline of ``EDP_BASELINES``, paired per scenario: one row per (system,
    workload, policy, baseline) with the ratio's mean and range and on how many scenarios the policy is lower."""
    rows = []
    for policy in policies:
        mine = _paired(frame, policy, "edp")
        for baseline in EDP_BASELINES:
            ratio = (mine / _paired(frame, baseline, "edp")).dropna()
            above = _paired(frame, baseline, "time_above_tmax_s")
            for (system, workload), r in ratio.groupby(level=["system", "workload"], sort=False):
                own = mine.loc[(system, workload)]
                rows.append({"system": system, "workload": workload, "policy": policy, "baseline": baseline,
                             "scenarios": len(r), "policy_edp_mean": own.mean(), "policy_edp_min": own.min(),
                             "policy_edp_max": own.max(),
                             "baseline_edp_mean": _paired(frame, baseline, "edp").loc[(system, workload)].mean(),
                             "ratio_mean": r.mean(), "ratio_min": r.min(), "ratio_max": r.max(),
                             "policy_lower": int((r < 1).sum()),
                             "baseline_max_s_above_tmax": above.loc[(system, workload)].max()})
    return pd.DataFrame(rows)


def edp_markdown(table: pd.DataFrame) -> str:
    """One line per (system, workload, policy): its EDP and the paired ratio to each baseline."""
    baselines = list(dict.fromkeys(table.baseline))
    safe_baselines = [b for b in baselines if b in SAFE_EDP_BASELINES]
    header = ["system", "workload", "policy", "n", "EDP J·s, mean (min-max)",
              *[f"/ {b}, mean (min-max)" for b in baselines], "lower than all of " + ", ".join(safe_baselines)
              + " on every scenario?"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (system, workload, policy), g in table.groupby(["system", "workload", "policy"], sort=False):
        g = g.set_index("baseline")
        first = g.iloc[0]
        cells = [f"{r.ratio_mean:.3f} ({r.ratio_min:.3f}-{r.ratio_max:.3f}), lower {r.policy_lower}/{r.scenarios}"
                 for r in (g.loc[b] for b in baselines)]
        safe = g.loc[safe_baselines]
        holds = bool((safe.policy_lower == safe.scenarios).all())
        lines.append("| " + " | ".join([system, workload, policy, str(first.scenarios),
                                        f"{first.policy_edp_mean:.4g} ({first.policy_edp_min:.4g}-"
                                        f"{first.policy_edp_max:.4g})", *cells, "yes" if holds else "no"]) + " |")
    return "\n".join(lines)


def oracle_headroom(frame: pd.DataFrame, policies: list[str]) -> pd.DataFrame:
    """On every scenario the Oracle ran: its throughput and the policies' relative to ``shielded-performance``."""
    oracle = _paired(frame, "oracle", "throughput")
    reference = _paired(frame, ABLATION_REFERENCE, "throughput").reindex(oracle.index)
    table = pd.DataFrame({"oracle": oracle, ABLATION_REFERENCE: reference,
                          "oracle_vs_ablation": oracle / reference - 1})
    for policy in policies:
        table[f"{policy}_vs_ablation"] = _paired(frame, policy, "throughput").reindex(oracle.index) / reference - 1
    table["oracle_s_above_tmax"] = _paired(frame, "oracle", "time_above_tmax_s")
    oracle_edp = _paired(frame, "oracle", "edp")
    table["oracle_edp_vs_ablation"] = oracle_edp / _paired(frame, ABLATION_REFERENCE, "edp").reindex(oracle.index) - 1
    return table.reset_index()


def ceiling_markdown(table: pd.DataFrame, governors: tuple[str, ...]) -> str:
    """Per (system, workload): the busy cores' mean frequency of ``governors`` and the f_max bound it leaves."""
    header = ["system", "workload", "governor", "n", "busy cores' mean GHz", "f_max bound on any V/f gain, mean (max)",
              f"vs {ABLATION_REFERENCE}, mean"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in table[table.governor.isin(governors)].itertuples(index=False):
        lines.append("| " + " | ".join([r.system, r.workload, r.governor, str(r.scenarios), f"{r.busy_f_GHz_mean:.3f}",
                                        f"{r.fmax_bound_mean:+.1%} ({r.fmax_bound_max:+.1%})",
                                        f"{r.vs_ablation_mean - 1:+.1%}"]) + " |")
    return "\n".join(lines)


def headroom_markdown(table: pd.DataFrame, policies: list[str]) -> str:
    columns = ["system", "workload", "mix", "seed", "oracle", ABLATION_REFERENCE, "oracle_vs_ablation",
               *[f"{p}_vs_ablation" for p in policies], "oracle_s_above_tmax", "oracle_edp_vs_ablation"]
    header = [*columns[:6], f"oracle vs {ABLATION_REFERENCE}", *[f"{p} vs {ABLATION_REFERENCE}" for p in policies],
              "oracle s > T_max", f"oracle EDP vs {ABLATION_REFERENCE}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system, workload, mix, seed, oracle, reference, *relative, above, edp in table[columns].itertuples(
            index=False, name=None):
        lines.append("| " + " | ".join([system, workload, mix, str(seed), f"{oracle:.4g}", f"{reference:.4g}",
                                        *[f"{v:+.1%}" for v in relative], f"{above:.3g}", f"{edp:+.1%}"]) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/results/ail/eval")
    parser.add_argument("--part", choices=("reference", "oracle", "baselines", "ail", "table", "all"), default="all",
                        help="reference = oracle + baselines; table only reads what exists")
    parser.add_argument("--scenarios", choices=("mixes", "single"), default="mixes")
    parser.add_argument("--policies", default="ail", help="comma-separated governors of the ail part (names or "
                                                          ".onnx paths)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--mixes", default=None, help="comma-separated mixes to run (default: all)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds to run (default: all; a subset writes "
                                                      "to its own folder)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    out = Path(args.out)
    mixes = write_mixes(out) if args.scenarios == "mixes" else dict(SINGLE)
    all_seeds = SEEDS if args.scenarios == "mixes" else (0,)
    seeds = tuple(int(s) for s in args.seeds.split(",")) if args.seeds else all_seeds
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    groups = {"oracle": [["oracle"]], "baselines": [[*BASELINES, *ABLATIONS]], "ail": [[p] for p in policies]}
    wanted = {"reference": ("oracle", "baselines"), "all": tuple(groups), "table": ()}.get(args.part, (args.part,))
    chosen = args.mixes.split(",") if args.mixes else list(mixes)
    for system in args.systems.split(","):
        for workload in args.workloads.split(","):
            for mix in chosen:
                for name in wanted:
                    for governors in groups[name]:
                        folder = group_folder(name if name != "ail" else governors[0], seeds, all_seeds)
                        compare(system, workload, mixes[mix], seeds, governors, out / system / workload / mix / folder,
                                args.jobs)
    if args.part not in ("table", "all", "ail"):
        return
    frame = runs(out, mixes).merge(busy_frequency(out), how="left",
                                   on=["system", "workload", "mix", "seed", "governor"])
    frame.to_csv(out / "runs.csv", index=False)
    table = summary(frame)
    table.to_csv(out / "summary.csv", index=False)
    summary(frame, ("system", "workload", "mix", "governor")).to_csv(out / "summary_by_mix.csv", index=False)
    sections = [markdown(table), "\n".join(f"- {v}" for v in verdicts(frame, policies))]
    energy = edp_vs_baselines(frame, policies)
    if not energy.empty:
        energy.to_csv(out / "edp_vs_baselines.csv", index=False)
        sections.append("EDP paired per scenario (policy / baseline; < 1: the policy's is lower):\n\n"
                        + edp_markdown(energy))
    if (frame.governor == "oracle").any():
        headroom = oracle_headroom(frame, policies)
        headroom.to_csv(out / "oracle_headroom.csv", index=False)
        sections.append("The Oracle's headroom, per scenario it ran:\n\n" + headroom_markdown(headroom, policies))
        sections.append("The most any V/f policy could add at these placements (f_max / the busy cores' mean "
                        "frequency):\n\n" + ceiling_markdown(table, ("oracle", ABLATION_REFERENCE, "ail")))
    text = "\n\n".join(sections) + "\n"
    (out / "ail_eval.md").write_text(text)
    (out / "headline.md").write_text(headline(table) + "\n")
    print(text)


if __name__ == "__main__":
    main()
