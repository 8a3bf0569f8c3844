#!/usr/bin/env python3
"""Measure the analyzer against the gzip floor at several bundle sizes and against its targets.

One command, from a fresh clone::

    python3 scripts/benchmark.py                       # scales 1,4,16, 5 runs each
    python3 scripts/benchmark.py --scales 0.25,1 --runs 3 --out docs/performance.md

What it does, in one run and on the same bundles:

1. generates a synthetic bundle per scale with scripts/make_synthetic_bundle.py
   (a .tar.gz; cached in ``--work``: reused with ``--keep`` when the generator
   has not changed since, deleted at the end otherwise);
2. for each scale, times as whole processes, alternating them, the median of
   ``--runs`` runs after one unmeasured warm-up (which also puts the bundle in
   the page cache):

   * the floor: ``gzip -dc BUNDLE > /dev/null``
   * ``gitops-master report BUNDLE -o report.html`` end to end;

3. times the start-up floor ``python -c 'import polars, jinja2, click, orjson, yaml'``
   against ``gitops-master report sample_bundles/<sample> -o x.html``;
4. prints a Markdown table (bundle size, gzip floor, report time, ratio, peak
   RSS from ``/usr/bin/time -v``, growth against scale 1) and the
   targets, met or missed; ``--out`` writes docs/performance.md with the
   machine, the commands and the table (a "What dominates" section already in
   that file is kept).

``gitops-master`` is run as ``<this python> -m analyzer`` from the repository,
so the checkout is measured whether or not it is installed. Needs GNU time
(Debian/Ubuntu: ``apt-get install time``) and gzip.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GENERATOR = REPO / "scripts" / "make_synthetic_bundle.py"
GNU_TIME = "/usr/bin/time"
STARTUP = "import polars, jinja2, click, orjson, yaml"
MIB = 1024 * 1024

# The targets: an enterprise bundle about as fast as it decompresses, in bounded memory.
RATIO_TARGET = 1.5  # report time / gzip floor at the enterprise scale
RSS_TARGET_MB = 1024  # peak memory at the enterprise scale
GROWTH_TARGET = 17.0  # time(16x) / time(1x)
STARTUP_TARGET = 1.5  # sample report / start-up floor


class BenchError(Exception):
    """A reason the benchmark cannot run at all; printed as one line."""


@dataclass
class Sample:
    seconds: float
    rss_mb: float
    exit_code: int


@dataclass
class Measure:
    label: str
    argv: list[str]
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None

    @property
    def seconds(self) -> float | None:
        ok = [s.seconds for s in self.samples]
        return statistics.median(ok) if ok and not self.failure else None

    @property
    def rss_mb(self) -> float | None:
        ok = [s.rss_mb for s in self.samples]
        return max(ok) if ok and not self.failure else None

    @property
    def spread(self) -> str:
        ok = [s.seconds for s in self.samples]
        return f"{min(ok):.2f}-{max(ok):.2f}" if ok else "-"


@dataclass
class Row:
    scale: float
    bundle: Path
    compressed: int
    uncompressed: int
    generated_in: float | None
    counts: dict
    floor: Measure
    report: Measure


# ---------------------------------------------------------------- running things


def check_tools() -> None:
    if not Path(GNU_TIME).is_file():
        raise BenchError(f"{GNU_TIME} (GNU time) is missing; install it: apt-get install time (Debian/Ubuntu), "
                         "dnf install time (Fedora)")
    probe = subprocess.run([GNU_TIME, "-v", "true"], capture_output=True, text=True)
    if "Maximum resident set size" not in probe.stderr:
        raise BenchError(f"{GNU_TIME} is not GNU time (no -v report); install GNU time: apt-get install time")
    if shutil.which("gzip") is None:
        raise BenchError("gzip is missing")
    try:
        subprocess.run([sys.executable, "-c", STARTUP], check=True, capture_output=True, timeout=120)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{sys.executable} cannot import the analyzer's dependencies ({exc.stderr.decode().strip()[-200:]}); "
                         "install them: python3 -m pip install -e .") from None


def timed(argv: list[str], timeout: float, stdout=subprocess.DEVNULL, cwd: Path = REPO) -> Sample:
    """Run ``argv`` under GNU time: wall seconds (measured here), peak RSS (from time -v), exit code."""
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        report = tf.name
    try:
        start = time.perf_counter()
        # A session of its own, so that a timeout kills the measured process too, not only GNU time.
        proc = subprocess.Popen([GNU_TIME, "-v", "-o", report, *argv], stdout=stdout, stderr=subprocess.PIPE,
                                cwd=cwd, start_new_session=True)
        try:
            _out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise BenchError(f"timed out after {timeout:.0f}s") from None
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        seconds = time.perf_counter() - start
        text = Path(report).read_text()
    finally:
        Path(report).unlink(missing_ok=True)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    code = proc.returncode
    m = re.search(r"Command terminated by signal (\d+)", text)
    if m:
        code = -int(m.group(1))
    if code not in (0, 1):
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise BenchError(f"exit code {code}: {' / '.join(tail) or 'no stderr'}")
    return Sample(seconds, rss, code)


def measure_pair(a: Measure, b: Measure, runs: int, timeout: float, log) -> None:
    """Warm up once each, then alternate a and b ``runs`` times (so a slow spell hits both)."""
    for m in (a, b):
        try:
            timed(m.argv, timeout)
        except BenchError as exc:
            m.failure = str(exc)
    for i in range(runs):
        for m in (a, b):
            if m.failure:
                continue
            try:
                m.samples.append(timed(m.argv, timeout))
            except BenchError as exc:
                m.failure = str(exc)
        log(f"  run {i + 1}/{runs}: " + ", ".join(
            f"{m.label} {m.samples[-1].seconds:.2f}s" if m.samples and not m.failure else f"{m.label} failed"
            for m in (a, b)))


# ---------------------------------------------------------------- bundles


def generator_hash() -> str:
    h = hashlib.sha256(GENERATOR.read_bytes())
    h.update((REPO / "scripts" / "make_sample_bundles.py").read_bytes())
    return h.hexdigest()[:16]


def bundle_for(scale: float, args, log) -> tuple[Path, dict, float | None]:
    """The bundle of ``scale`` in the work dir: reused with --keep if the generator is unchanged, else generated."""
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    name = f"bundle-{scale:g}x-seed{args.seed}-kargo{args.kargo_version}-argocd{args.argocd_version}"
    path = work / f"{name}.tar.gz"
    planted = work / f"{name}.planted.json"
    meta_path = work / f"{name}.meta.json"
    digest = generator_hash()
    if args.keep and path.is_file() and planted.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("generator") == digest:
            log(f"scale {scale:g}: reusing {path}")
            return path, json.loads(planted.read_text()), meta.get("seconds")
        log(f"scale {scale:g}: the generator changed since {path} was written; generating again")
    for stale in (path, planted, meta_path):
        stale.unlink(missing_ok=True)
    log(f"scale {scale:g}: generating {path} ...")
    cmd = [sys.executable, str(GENERATOR), "--scale", f"{scale:g}", "--out", str(path), "--tar", "--seed",
           str(args.seed), "--kargo-version", args.kargo_version, "--argocd-version", args.argocd_version, "--quiet"]
    start = time.perf_counter()
    try:
        subprocess.run(cmd, check=True, timeout=args.generate_timeout, cwd=REPO)
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"generating scale {scale:g} failed (exit code {exc.returncode}): {shlex.join(cmd)}") from None
    except subprocess.TimeoutExpired:
        path.unlink(missing_ok=True)
        raise BenchError(f"generating scale {scale:g} took longer than {args.generate_timeout:.0f}s") from None
    seconds = time.perf_counter() - start
    meta_path.write_text(json.dumps({"generator": digest, "seconds": round(seconds, 1)}) + "\n")
    log(f"scale {scale:g}: generated in {seconds:.0f}s ({path.stat().st_size / MIB:.0f} MiB)")
    return path, json.loads(planted.read_text()), seconds


def report_argv(bundle: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "analyzer", "report", str(bundle), "-o", str(out)]


# ---------------------------------------------------------------- the document


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        free = subprocess.run(["free", "-h"], capture_output=True, text=True, timeout=10).stdout.rstrip()
    except (OSError, subprocess.SubprocessError):
        free = "(free not available)"
    polars = subprocess.run([sys.executable, "-c", "import polars; print(polars.__version__)"], capture_output=True,
                            text=True).stdout.strip()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return {"cpu": cpu, "nproc": str(os.cpu_count()), "free": free, "python": platform.python_version(),
            "polars": polars or "?", "os": f"{platform.system()} {platform.release()}", "load": load}


def short(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split()).replace("|", "/")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fmt_s(x: float | None) -> str:
    return f"{x:.2f}" if x is not None else "failed"


def fmt_mb(n: int) -> str:
    return f"{n / MIB:,.0f}" if n >= 10 * MIB else f"{n / MIB:.1f}"


def table(rows: list[Row]) -> str:
    base = next((r for r in rows if r.scale == 1), None)
    lines = ["| scale | stages / promotions / apps / pods / events | bundle MiB gz / raw | gzip floor s | report s "
             "(min-max) | ratio | peak RSS MB | report growth vs 1x (floor growth) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r.counts
        objects = (f"{c.get('Stage', 0):,} / {c.get('Promotion', 0):,} / {c.get('Application', 0):,} / "
                   f"{c.get('Pod', 0):,} / {c.get('Event', 0):,}")
        f, t = r.floor.seconds, r.report.seconds
        ratio = f"{t / f:.1f}x" if f and t else "-"
        growth = "-"
        if base and t and base.report.seconds and f and base.floor.seconds:
            growth = f"{t / base.report.seconds:.1f}x ({f / base.floor.seconds:.1f}x)"
        rss = f"{r.report.rss_mb:,.0f}" if r.report.rss_mb is not None else "-"
        report = f"{fmt_s(t)} ({r.report.spread})" if t is not None else f"failed: {short(r.report.failure)}"
        lines.append(f"| {r.scale:g} | {objects} | {fmt_mb(r.compressed)} / {fmt_mb(r.uncompressed)} | "
                     f"{fmt_s(f)} | {report} | {ratio} | {rss} | {growth} |")
    return "\n".join(lines)


def targets(rows: list[Row], startup: Measure, sample: Measure) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target that this run can judge."""
    out = []
    by = {r.scale: r for r in rows}
    top = max(rows, key=lambda r: r.scale) if rows else None

    def verdict(ok: bool) -> str:
        return "met" if ok else "**missed**"

    if top is not None:
        f, t = top.floor.seconds, top.report.seconds
        where = f"at scale {top.scale:g}" + ("" if top.scale == 16 else " (the enterprise scale is 16)")
        if f and t:
            out.append((f"report <= {RATIO_TARGET}x the gzip floor", f"{t / f:.1f}x {where} ({t:.1f}s vs {f:.1f}s)",
                        verdict(t <= RATIO_TARGET * f)))
        else:
            out.append((f"report <= {RATIO_TARGET}x the gzip floor", f"report failed {where}: {short(top.report.failure)}",
                        "**missed**"))
        if top.report.rss_mb is not None:
            out.append((f"peak memory < {RSS_TARGET_MB} MB", f"{top.report.rss_mb:,.0f} MB {where}",
                        verdict(top.report.rss_mb < RSS_TARGET_MB)))
    if 1 in by and 16 in by and by[1].report.seconds and by[16].report.seconds:
        g = by[16].report.seconds / by[1].report.seconds
        out.append((f"16x the input costs <= {GROWTH_TARGET:g}x the time", f"{g:.1f}x", verdict(g <= GROWTH_TARGET)))
    elif len(rows) >= 2 and rows[0].scale >= 1 and rows[0].report.seconds and rows[-1].report.seconds:
        # Below scale 1 the object counts have floors (every planted scenario needs its pipeline): not linear.
        lo, hi = rows[0], rows[-1]
        g = hi.report.seconds / lo.report.seconds
        k = hi.scale / lo.scale
        out.append((f"growth linear ({k:g}x the input, scales {lo.scale:g} -> {hi.scale:g})",
                    f"{g:.1f}x the time", verdict(g <= k * GROWTH_TARGET / 16)))
    if startup.seconds and sample.seconds:
        out.append((f"sample report <= {STARTUP_TARGET}x the start-up floor",
                    f"{sample.seconds / startup.seconds:.1f}x ({sample.seconds:.2f}s vs {startup.seconds:.2f}s)",
                    verdict(sample.seconds <= STARTUP_TARGET * startup.seconds)))
    return out


def targets_table(items: list[tuple[str, str, str]]) -> str:
    lines = ["| target | measured | |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in items]
    return "\n".join(lines)


PLACEHOLDER = """_To be filled in after profiling: where the time and the memory of `report` go at the
largest scale (reading the tarball, parsing JSON, building frames, parsing logs, rules, rendering),
and what bounds each target that is missed._"""


def document(args, rows: list[Row], startup: Measure, sample: Measure, sample_path: Path, m: dict,
             kept_dominates: str | None, began: datetime) -> str:
    scales = ",".join(f"{r.scale:g}" for r in rows)
    cmd = f"python3 scripts/benchmark.py --scales {scales} --runs {args.runs} --out docs/performance.md"
    gen = "\n".join(f"| {r.scale:g} | {r.generated_in:.0f} |" if r.generated_in else f"| {r.scale:g} | (reused) |"
                    for r in rows)
    busy = ""
    try:
        if float(m["load"].split(",")[0]) > 0.75 * int(m["nproc"]):
            busy = (f"\n\n**The machine was busy** (load {m['load'].split(',')[0].strip()} on {m['nproc']} cores): "
                    "these timings are inflated and noisy; compare ratios within this run only.")
    except (ValueError, IndexError):
        pass
    first = rows[-1] if rows else None
    example = first.bundle if first else Path("BUNDLE.tar.gz")
    sample_rel = sample_path.relative_to(REPO) if sample_path.is_relative_to(REPO) else sample_path
    return f"""# Performance

How fast `gitops-master report` is on bundles from a small installation up to
the "enterprise" size (2,000 Stages and 2 GB of logs), against the cost of merely decompressing the
same bundle. Written by `scripts/benchmark.py`; regenerate it with:

```
{cmd}
```

## Machine

- CPU: {m['cpu']}, {m['nproc']} cores (`nproc`)
- OS: {m['os']}; Python {m['python']}; polars {m['polars']}
- Load average when the run started: {m['load']}
- Run: {began.strftime('%Y-%m-%d %H:%M UTC')}{busy}

```
$ free -h
{m['free']}
```

## Bundles

Synthetic bundles from `scripts/make_synthetic_bundle.py` (seed {args.seed}, Kargo
v{args.kargo_version}, Argo CD v{args.argocd_version}). Scale 1 is the enterprise
bundle divided by 16; scale 16 is the enterprise bundle (2,000 Stages, 20,000
Promotions, 5,000 Freight, 10,000 Applications, 20,000 Pods, 50,000 Events,
2 GB of controller logs). Every catalog scenario is planted at a small rate on a
healthy majority; the logs are the controllers' formats for those versions.
Below scale 1 the object counts have floors (each planted scenario needs a
pipeline of its own), so only logs, pods and events shrink there; growth is
judged from scale 1 up.

| scale | generated in s |
|---|---|
{gen}

## Commands

Each measured command runs as a whole process under `/usr/bin/time -v` (wall
time measured around it, peak RSS from its report); one unmeasured warm-up run
first (it also brings the bundle into the page cache), then {args.runs} runs
alternating floor and report; the table shows the median (and min-max).

```
gzip -dc BUNDLE > /dev/null                                     # the floor
gitops-master report BUNDLE -o report.html                      # end to end
python -c '{STARTUP}'   # the start-up floor
gitops-master report {sample_rel} -o x.html
```

`gitops-master` is run as `python -m analyzer` from the checkout ({sys.executable});
BUNDLE is `{example.name}` and its siblings in `--work`.

## Results

{table(rows)}

Start-up: `python -c '{STARTUP}'` {fmt_s(startup.seconds)} s ({startup.spread}),
peak RSS {startup.rss_mb or 0:.0f} MB; `report {sample_rel}` {fmt_s(sample.seconds)} s
({sample.spread}), peak RSS {sample.rss_mb or 0:.0f} MB.

### Targets

{targets_table(targets(rows, startup, sample))}

## What dominates

{kept_dominates or PLACEHOLDER}
"""


def kept_section(path: Path) -> str | None:
    """The "What dominates" section of an existing document, unless it is still the placeholder."""
    if not path.is_file():
        return None
    text = path.read_text()
    m = re.search(r"^## What dominates\s*\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if not m:
        return None
    body = m.group(1).strip()
    return None if not body or body == PLACEHOLDER.strip() else body


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--scales", default="1,4,16", help="comma-separated scales (default 1,4,16)")
    parser.add_argument("--runs", type=int, default=5, help="measured runs per command (default 5)")
    parser.add_argument("--out", type=Path, help="write the results document here (e.g. docs/performance.md)")
    parser.add_argument("--work", default=str(Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                                              / "gitops-master-benchmark"),
                        help="where bundles and reports go (default ~/.cache/gitops-master-benchmark)")
    parser.add_argument("--keep", action="store_true",
                        help="reuse bundles already in --work (if the generator is unchanged) and keep them afterwards")
    parser.add_argument("--sample", type=Path, default=REPO / "sample_bundles" / "healthy-pipeline",
                        help="sample bundle for the start-up comparison (default sample_bundles/healthy-pipeline)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kargo-version", default="1.11.2")
    parser.add_argument("--argocd-version", default="3.1.8")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per measured process")
    parser.add_argument("--generate-timeout", type=float, default=7200, help="seconds allowed per bundle generation")
    args = parser.parse_args(argv)
    try:
        scales = sorted({float(s) for s in args.scales.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--scales {args.scales!r}: expected numbers such as 1,4,16")
    if not scales or any(s <= 0 for s in scales):
        parser.error("--scales must be positive numbers")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    began_wall = datetime.now(timezone.utc)
    t0 = time.monotonic()

    def log(msg: str) -> None:
        print(f"[{time.monotonic() - t0:7.0f}s] {msg}", file=sys.stderr, flush=True)

    try:
        check_tools()
        if not args.sample.exists():
            raise BenchError(f"sample bundle {args.sample} does not exist")
        m = machine()
        log(f"{m['cpu']}, {m['nproc']} cores, load {m['load']}; python {m['python']}, polars {m['polars']}")
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        rows: list[Row] = []
        made: list[Path] = []
        for scale in scales:
            bundle, planted, gen_s = bundle_for(scale, args, log)
            made.append(bundle)
            report_out = work / f"report-{scale:g}x.html"
            floor = Measure("gzip -dc", ["gzip", "-dc", str(bundle)])
            report = Measure("report", report_argv(bundle, report_out))
            log(f"scale {scale:g}: measuring ({args.runs} runs each, after a warm-up)")
            measure_pair(floor, report, args.runs, args.timeout, log)
            for mm in (floor, report):
                if mm.failure:
                    log(f"scale {scale:g}: {mm.label} failed: {mm.failure}")
            rows.append(Row(scale, bundle, bundle.stat().st_size, planted["counts"]["uncompressed_bytes"], gen_s,
                            planted["counts"], floor, report))
            log(f"scale {scale:g}: floor {fmt_s(floor.seconds)} s, report {fmt_s(report.seconds)} s, "
                f"peak RSS {report.rss_mb or 0:.0f} MB")
        startup = Measure("start-up", [sys.executable, "-c", STARTUP])
        sample = Measure("sample report", report_argv(args.sample, work / "sample.html"))
        log("start-up floor against a sample report")
        measure_pair(startup, sample, max(args.runs, 5), args.timeout, log)
    except BenchError as exc:
        print(f"benchmark: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark: interrupted", file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            for p in locals().get("made", []):
                for stale in (p, p.with_name(p.name.replace(".tar.gz", ".planted.json")),
                              p.with_name(p.name.replace(".tar.gz", ".meta.json"))):
                    stale.unlink(missing_ok=True)

    print(table(rows))
    print()
    print(f"start-up floor {fmt_s(startup.seconds)} s; sample report {fmt_s(sample.seconds)} s "
          f"({args.sample.name})")
    print()
    print(targets_table(targets(rows, startup, sample)))
    if args.out:
        out = args.out if args.out.is_absolute() else Path.cwd() / args.out
        text = document(args, rows, startup, sample, args.sample.resolve(), m, kept_section(out), began_wall)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
