"""Benchmark one whole `pytest tests_compliance --org` run against a simulated organization of N accounts.

Run it from any folder; it runs pytest in the project root:

    python bench/run.py --accounts 1143
    python bench/run.py --accounts 200 --latency-ms 50 --workers-baseline
    python bench/run.py --accounts 1143 --throttle-rate 0.05

It starts bench/emulator.py (moto's server on 127.0.0.1, seeded with N active accounts), then runs
the suite against it as a user would, with only fake credentials and the emulator as endpoint:

    python -m pytest tests_compliance --org -p no:cacheprovider -q --findings-json F --html H

plus `-p bench.pytest_phases`, which only reads clocks, and `-p no:NAME` for each installed pytest
plugin that requirements.txt does not list. For that pytest process it measures:
- wall time from start to exit, and accounts per second from it;
- peak memory, the maximum resident set size that the kernel reports for the process when it
  exits (`os.wait4`), and its CPU time;
- the time of each phase, from start-up through evidence collection, the tests and the reports
  to the process exit;
- the requests the emulator served during the run, how many it throttled, its CPU time, and the
  CPU time of every other process on the machine.

It then checks that findings.json contains exactly one finding per account and control, with the
status that the account's seed implies for the four root controls. With `--workers-baseline` it
runs the suite again with `--workers 1` and prints the speed-up of the first run over it. The
emulator is stopped at the end, on error and on Ctrl-C, and every wait has a timeout. Exit
status: 0 when every run's findings are complete and as seeded, 1 when not, 2 when the emulator
or pytest could not be run, 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.request
from collections import Counter
from importlib.metadata import entry_points
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMULATOR = PROJECT_ROOT / "bench" / "emulator.py"
READY_PREFIX = "emulator ready "
STATS_PATH = "/_bench/stats"
# The controls whose verdicts the emulator's seed determines.
ROOT_CONTROLS = ("root-usage", "root-access-key", "root-mfa", "root-hardware-mfa")
PHASES_FILE_VARIABLE = "BENCH_PHASES_FILE"
# Proxy variables would send the suite's requests for 127.0.0.1 to a proxy.
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
# The counts in pytest's last line, e.g. "3 failed, 10 passed, 2 errors in 4.20s".
OUTCOME = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)\b")


class BenchmarkError(Exception):
    """The emulator or pytest could not be run to the end; the message names the cause."""


@dataclass
class FindingsCheck:
    """Differences between the findings file and the seeded organization."""

    findings: int = 0
    accounts: int = 0
    # Every control with a finding, and the four root controls, which every run must judge.
    controls: list[str] = field(default_factory=list)
    # (account id, control) pairs without a finding.
    missing: int = 0
    # Findings for accounts that were not seeded as active, or a second finding for a pair.
    unexpected: int = 0
    # Root-control findings whose status differs from the seed's, e.g. an error under throttling,
    # and errors of other controls in accounts whose credential report is not denied.
    wrong_status: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def complete(self, accounts: int) -> bool:
        return (
            self.findings == accounts * len(self.controls)
            and self.accounts == accounts
            and not (self.missing or self.unexpected or self.wrong_status)
        )


@dataclass
class RunResult:
    """Measurements of one pytest run."""

    label: str
    workers: int | None
    command: list[str]
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mb: float
    outcomes: dict[str, int]
    phases: dict[str, float]
    requests: int
    throttled: int
    emulator_cpu_seconds: float
    # CPU seconds that every other process of the machine used during the run; None off Linux.
    # Other sessions' load slows the measured run, so a large value makes the run unrepresentative.
    other_cpu_seconds: float | None
    check: FindingsCheck
    log: str


class Emulator:
    """bench/emulator.py in a subprocess, stopped when the context exits."""

    def __init__(self, args: argparse.Namespace, workdir: Path, label: str) -> None:
        self._args = args
        self._workdir = workdir
        self.manifest_path = workdir / f"manifest-{label}.json"
        self.log_path = workdir / f"emulator-{label}.log"
        self.ready: dict[str, Any] = {}
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()

    @property
    def port(self) -> int:
        return int(self.ready["port"])

    def __enter__(self) -> Emulator:
        command = [
            sys.executable, str(EMULATOR),
            "--accounts", str(self._args.accounts),
            "--latency-ms", str(self._args.latency_ms),
            "--throttle-rate", str(self._args.throttle_rate),
            "--seed", str(self._args.seed),
            "--manifest", str(self.manifest_path),
            "--exit-on-stdin-eof",
        ]  # fmt: skip
        if self._args.reports_ready:
            command.append("--reports-ready")
        self._log = self.log_path.open("w", encoding="utf-8")
        try:
            self._process = subprocess.Popen(
                command, cwd=PROJECT_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True
            )
            threading.Thread(target=self._read_stdout, name="emulator-stdout", daemon=True).start()
            self._wait_until_ready(self._args.startup_timeout)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            # Closing stdin stops an emulator started with --exit-on-stdin-eof; SIGTERM stops any.
            if process.stdin is not None:
                process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()

    def stats(self) -> dict[str, Any]:
        """Return the emulator's counters: requests served, requests throttled and CPU seconds."""
        # An empty ProxyHandler keeps urllib from sending this request to a configured proxy.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{self.port}{STATS_PATH}", timeout=10) as response:
            return json.loads(response.read())

    def _read_stdout(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchmarkError(f"The emulator was not ready within {timeout:g} s. {self._log_tail()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise BenchmarkError(f"The emulator exited before it was ready. {self._log_tail()}")
            if line.startswith(READY_PREFIX):
                self.ready = json.loads(line[len(READY_PREFIX) :])
                return

    def _log_tail(self) -> str:
        if self._log is not None:
            self._log.flush()
        lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        return f"Last lines of {self.log_path}:\n" + "\n".join(lines)


def extra_plugins() -> list[str]:
    """Return the auto-loaded pytest plugins whose distribution is neither the project nor in requirements.txt.

    A user who installed requirements.txt does not have them, and some cost seconds per run:
    Hypothesis's plugin, for one, imports Hypothesis in every terminal summary.
    """
    required = set()
    for line in (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines():
        name = re.split(r"[=<>~!\[; ]", line.strip(), maxsplit=1)[0]
        if name and not name.startswith("#"):
            required.add(_normalized(name))
    # The project's own plugin is registered under the distribution name of pyproject.toml.
    pyproject = PROJECT_ROOT / "pyproject.toml"
    if pyproject.exists():
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        if "name" in project:
            required.add(_normalized(project["name"]))
    return sorted(
        entry.name
        for entry in entry_points(group="pytest11")
        if entry.dist is not None and _normalized(entry.dist.name) not in required
    )


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def suite_environment(port: int, workdir: Path, phases_file: Path) -> dict[str, str]:
    """Return the pytest environment: the emulator as the only endpoint, fake credentials, no AWS config."""
    empty = workdir / "empty-aws-file"
    empty.touch()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in PROXY_VARIABLES
    }
    environment.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    environment[PHASES_FILE_VARIABLE] = str(phases_file)
    return environment


def run_suite(
    emulator: Emulator, workdir: Path, label: str, workers: int | None, timeout: float, extra_arguments: list[str]
) -> RunResult:
    """Run the compliance suite once against the emulator and measure it."""
    findings = workdir / f"findings-{label}.json"
    log_path = workdir / f"pytest-{label}.log"
    phases_file = workdir / f"phases-{label}.json"
    command = [
        sys.executable, "-m", "pytest", "tests_compliance", "--org",
        "-p", "no:cacheprovider", "-q",
        "--findings-json", str(findings),
        "--html", str(workdir / f"report-{label}.html"),
        "-p", "bench.pytest_phases",
    ]  # fmt: skip
    if workers is not None:
        command += ["--workers", str(workers)]
    for plugin in extra_plugins():
        command += ["-p", f"no:{plugin}"]
    command += extra_arguments

    before = emulator.stats()
    busy_before = machine_busy_seconds()
    with log_path.open("w", encoding="utf-8") as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=suite_environment(emulator.port, workdir, phases_file),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        exit_code, usage = wait_with_usage(process, timeout)
        ended = time.monotonic()
    wall = ended - started
    busy_after = machine_busy_seconds()
    after = emulator.stats()
    cpu = usage.ru_utime + usage.ru_stime
    emulator_cpu = after["cpu_seconds"] - before["cpu_seconds"]
    other_cpu = None
    if busy_before is not None and busy_after is not None:
        other_cpu = max(0.0, busy_after - busy_before - cpu - emulator_cpu)

    output = log_path.read_text(encoding="utf-8", errors="replace")
    if exit_code not in (0, 1):
        tail = "\n".join(output.splitlines()[-20:])
        raise BenchmarkError(f"pytest exited with status {exit_code}; last lines of {log_path}:\n{tail}")

    return RunResult(
        label=label,
        workers=workers,
        command=command,
        exit_code=exit_code,
        wall_seconds=wall,
        cpu_seconds=cpu,
        # Linux reports ru_maxrss in KiB.
        peak_memory_mb=usage.ru_maxrss / 1024,
        outcomes=pytest_outcomes(output),
        phases=phase_durations(phases_file, started, ended),
        requests=after["requests"] - before["requests"],
        throttled=after["throttled"] - before["throttled"],
        emulator_cpu_seconds=emulator_cpu,
        other_cpu_seconds=other_cpu,
        check=check_findings(findings, emulator.manifest_path),
        log=str(log_path),
    )


def machine_busy_seconds() -> float | None:
    """Return the CPU seconds that all processes have used since boot, from /proc/stat; None off Linux."""
    try:
        first_line = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0]
    except (OSError, IndexError):
        return None
    # The "cpu" line counts clock ticks: user nice system idle iowait irq softirq steal ...
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in first_line.split()[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def wait_with_usage(process: subprocess.Popen[Any], timeout: float) -> tuple[int, Any]:
    """Wait for `process` at most `timeout` seconds; return its exit code and its own resource usage.

    `os.wait4` returns the usage of this one child, where RUSAGE_CHILDREN would mix in every child
    waited for before. The process is killed on timeout, on Ctrl-C and on any other error.

    NOTE: a SIGKILL of run.py leaves pytest running until its calls to the stopped emulator have
    used up their retries. The emulator itself stops when its stdin closes.
    """
    deadline = time.monotonic() + timeout
    reaped = False
    try:
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                reaped = True
                process.returncode = os.waitstatus_to_exitcode(status)
                return process.returncode, usage
            if time.monotonic() > deadline:
                raise BenchmarkError(f"pytest did not finish within {timeout:g} s and was killed; raise --timeout.")
            time.sleep(0.05)
    finally:
        if not reaped:
            process.kill()
            process.wait(timeout=30)


def pytest_outcomes(output: str) -> dict[str, int]:
    """Read the counts from pytest's last summary line, e.g. {"failed": 3, "passed": 10}."""
    for line in reversed(output.splitlines()):
        counts = OUTCOME.findall(line)
        if counts and " in " in line:
            return {("errors" if kind == "error" else kind): int(number) for number, kind in counts}
    return {}


def phase_durations(phases_file: Path, started: float, ended: float) -> dict[str, float]:
    """Turn the clock readings of bench/pytest_phases.py into seconds per phase.

    Start-up runs from the process start to the session start, and exit from the last pytest
    hook to the process exit.
    """
    if not phases_file.exists():
        return {}
    marks = json.loads(phases_file.read_text(encoding="utf-8"))
    # The terminal reporter runs the terminal summary inside pytest_sessionfinish.
    terminal_summary = marks["terminal_summary_end"] - marks["terminal_summary_start"]
    durations = {
        "start-up": marks["sessionstart_start"] - started,
        "discovery": marks["collect_all_start"] - marks["sessionstart_start"],
        "evidence": marks["collect_all_end"] - marks["collect_all_start"],
        "test collection": marks["test_collection_end"] - marks["test_collection_start"],
        "tests": marks["tests_end"] - marks["tests_start"],
        "reports": (marks["sessionfinish_end"] - marks["sessionfinish_start"]) - terminal_summary,
        "terminal summary": terminal_summary,
        "exit": ended - marks["unconfigure"],
    }
    return {name: round(seconds, 2) for name, seconds in durations.items()}


def check_findings(findings_path: Path, manifest_path: Path) -> FindingsCheck:
    """Compare findings.json with the accounts and root-control verdicts that the emulator seeded.

    Every account must have exactly one finding per control. The root controls' statuses follow
    from the seed. Other controls may be judged any way, but an error is wrong for them unless the
    account's credential report is denied: the emulator makes every other call answerable.
    """
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))["accounts"]
    data = json.loads(findings_path.read_text(encoding="utf-8"))
    findings = data["findings"]
    check = FindingsCheck(findings=len(findings), accounts=len(data["accounts"]))
    check.controls = sorted(set(ROOT_CONTROLS) | {finding["control"] for finding in findings})
    check.statuses = dict(Counter(finding["status"] for finding in findings))

    seen: Counter[tuple[str, str]] = Counter()
    for finding in findings:
        pair = (finding["account_id"], finding["control"])
        seen[pair] += 1
        if pair[0] not in manifest or seen[pair] > 1:
            check.unexpected += 1
            continue
        expected = _expected_instead(finding["status"], pair[1], manifest[pair[0]])
        if expected is not None:
            check.wrong_status += 1
            if len(check.examples) < 5:
                check.examples.append(f"{pair[0]} {pair[1]}: {finding['status']} (expected {expected}): {finding['message']}")
    check.missing = sum((account_id, control) not in seen for account_id in manifest for control in check.controls)
    return check


def _expected_instead(status: str, control: str, account: dict[str, Any]) -> str | None:
    """Return what was expected when `status` is wrong for this control and seeded account, else None."""
    expected = account["expected"].get(control)
    if expected is not None:
        return None if status == expected else expected
    if status == "error" and not account["report_denied"]:
        return "no error"
    return None


def print_result(result: RunResult, accounts: int, kept: bool) -> None:
    outcomes = ", ".join(f"{count} {kind}" for kind, count in sorted(result.outcomes.items()))
    tests = sum(result.outcomes.values())
    workers = "(suite default, 32)" if result.workers is None else str(result.workers)
    check = result.check
    verdict = "complete and as seeded" if check.complete(accounts) else "NOT as seeded"
    print(f"--- run {result.label}: --workers {workers}")
    shown = [Path(part).name if part.startswith(("/", str(PROJECT_ROOT))) else part for part in result.command]
    print(f"command              {' '.join(shown)}")
    print(f"accounts             {accounts}")
    print(f"tests                {tests} ({outcomes}); pytest exit status {result.exit_code}")
    print(f"wall time            {result.wall_seconds:.1f} s")
    print(f"accounts per second  {accounts / result.wall_seconds:.1f}")
    print(f"peak memory          {result.peak_memory_mb:.0f} MB (max RSS of the pytest process)")
    other = "" if result.other_cpu_seconds is None else f", other processes {result.other_cpu_seconds:.1f} s"
    print(f"CPU time             pytest {result.cpu_seconds:.1f} s, emulator {result.emulator_cpu_seconds:.1f} s{other}")
    print("phases               " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.phases.items()))
    print(f"emulator requests    {result.requests} ({result.throttled} throttled)")
    print(
        f"findings             {check.findings} for {_count(check.accounts, 'account')} x {_count(len(check.controls), 'control')}, {verdict}: "
        f"missing {check.missing}, "
        f"unexpected {check.unexpected}, other status than seeded {check.wrong_status}; statuses {check.statuses}"
    )
    for example in check.examples:
        print(f"  e.g. {example}")
    if kept:
        print(f"pytest output        {result.log}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, required=True, help="Active accounts in the organization, the management account included.")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Delay the emulator adds to every request, in milliseconds (default: 0).")
    parser.add_argument("--throttle-rate", type=float, default=0.0, help="Share of requests the emulator throttles, 0 to 1 (default: 0).")
    parser.add_argument("--workers-baseline", action="store_true", help="Run the suite a second time with --workers 1 and print the speed-up.")
    parser.add_argument(
        "--reports-ready",
        action="store_true",
        help="Start each emulator with every credential report generated, as for a re-run within 4 hours (default: none generated).",
    )
    parser.add_argument("--workers", type=int, help="--workers of the first run (default: the suite's default, 32).")
    parser.add_argument(
        "--pytest-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="Append ARG to every pytest command, for experiments; repeatable, e.g. --pytest-arg=--tb=line.",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the working folder: findings, HTML reports, logs and the emulator's manifest.")
    parser.add_argument("--seed", type=int, default=20260601, help="Random seed of the organization and of throttling (default: 20260601).")
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="Maximum wait for the emulator to be ready, in seconds (default: 180).")
    parser.add_argument("--timeout", type=float, default=1800.0, help="Maximum duration of one pytest run, in seconds (default: 1800).")
    parser.add_argument("--json", type=Path, help="Also write every measurement to this JSON file.")
    args = parser.parse_args(argv)
    if args.accounts < 1:
        parser.error(f"--accounts must be 1 or more, got {args.accounts}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="awscompliance-bench-"))
    try:
        results = _benchmark(args, workdir)
    except BenchmarkError as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchmark interrupted; the emulator and pytest were stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"working folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all(result.check.complete(args.accounts) for result in results) else 1


def suite_revision() -> str:
    """Describe the checked-out suite: its commit, and whether the work tree has changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        changes = subprocess.run(
            ["git", "status", "--porcelain"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{commit} with uncommitted changes" if changes.strip() else commit


def _benchmark(args: argparse.Namespace, workdir: Path) -> list[RunResult]:
    print(f"suite revision: {suite_revision()}")
    blocked = extra_plugins()
    if blocked:
        print(f"pytest plugins installed but not in requirements.txt, blocked with -p no:NAME: {', '.join(blocked)}")
    runs = [("default", args.workers)] + ([("workers-1", 1)] if args.workers_baseline else [])
    results = []
    ready: dict[str, Any] = {}
    for label, workers in runs:
        # Each run gets a new emulator seeded alike. A run generates every credential report,
        # and a second run on the same emulator would read them without the first run's waits.
        with Emulator(args, workdir, label) as emulator:
            ready = emulator.ready
            reports = "every credential report ready" if args.reports_ready else "no credential report generated yet"
            print(
                f"emulator on 127.0.0.1:{emulator.port}: {ready['accounts']} active and {ready['closed']} closed accounts "
                f"seeded in {ready['seed_seconds']} s; latency {args.latency_ms:g} ms, throttle rate {args.throttle_rate:g}; "
                f"{reports}"
            )
            if label == runs[0][0]:
                print(
                    f"seeded roots: {ready['root_no_password']} without password, {ready['root_no_mfa']} without MFA, "
                    f"{ready['root_virtual_mfa']} with virtual MFA, {ready['root_access_key']} with an access key; "
                    f"{_count(ready['report_denied'], 'account')} with the credential report denied"
                )
            results.append(run_suite(emulator, workdir, label, workers, args.timeout, args.pytest_arg))
        print_result(results[-1], args.accounts, args.keep)
    if args.workers_baseline:
        _print_speedup(results[0], results[1])

    if args.json:
        payload = {"arguments": {k: str(v) for k, v in vars(args).items()}, "emulator": ready, "runs": [asdict(r) for r in results]}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return results


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _print_speedup(default: RunResult, baseline: RunResult) -> None:
    speedup = baseline.wall_seconds / default.wall_seconds
    line = f"speed-up of the default workers over --workers 1: {speedup:.1f}x wall ({baseline.wall_seconds:.1f} s / {default.wall_seconds:.1f} s)"
    evidence, evidence_baseline = default.phases.get("evidence"), baseline.phases.get("evidence")
    if evidence and evidence_baseline:
        line += f", {evidence_baseline / evidence:.1f}x for evidence collection alone"
    print(line)


if __name__ == "__main__":
    sys.exit(main())
