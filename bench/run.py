"""migratectl against the alembic CLI, side by side, on the same projects and databases.

    python bench/run.py [--quick] [--runs N] [--only TEXT] [--postgres-url URL] [--keep]

It generates the projects in a temporary folder (see bench/projects.py), runs both commands on
the same work — interleaved, one warm-up run each, then ``--runs`` timed runs (5; 3 with
``--quick``) — and prints the medians and the ratio migratectl / alembic for each case, with
the target ratio. PostgreSQL cases need a server (``--postgres-url``, default
$MIGRATECTL_BENCH_POSTGRES_URL, else the tests' $MIGRATECTL_TEST_POSTGRES_URL, else
postgresql+psycopg://postgres@127.0.0.1:5432/postgres); the login must be allowed to create
databases. The latency cases go through bench/latency_proxy.py (127.0.0.1 only).

Run it by hand on a quiet machine; it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import projects  # noqa: E402

BIN = Path(sys.executable).parent
PROXY = Path(__file__).resolve().parent / "latency_proxy.py"
DEFAULT_POSTGRES_URL = os.environ.get(
    "MIGRATECTL_BENCH_POSTGRES_URL",
    os.environ.get(
        "MIGRATECTL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    ),
)
TABLES = 500
REVISIONS = 300
VERIFY_REVISIONS = 50


def executable(name: str) -> str:
    """The command installed beside this Python (not a shim that adds its own start-up)."""
    beside = BIN / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed in this environment")
    return found


def child_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MIGRATECTL_") and k not in ("DATABASE_URL", "PYTHONDONTWRITEBYTECODE")
    }
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Measurement:
    seconds: float
    cpu_seconds: float  # the child's user + system time: less disturbed by a busy machine
    max_rss_kb: int
    exit_code: int


def measure(argv: list[str], cwd: Path) -> Measurement:
    """Run ``argv``; wall time and the child's own peak RSS (``wait4``, not the cumulative max)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=child_env(), stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        result = Measurement(elapsed, cpu, usage.ru_maxrss, proc.returncode)
        if os.environ.get("BENCH_SHOW_OUTPUT"):
            for stream in (out, err):
                stream.seek(0)
                sys.stderr.write(stream.read().decode(errors="replace"))
        if result.exit_code not in (0, 1):
            err.seek(0)
            out.seek(0)
            detail = (out.read() + err.read()).decode(errors="replace")[-3000:]
            raise RuntimeError(f"{' '.join(argv)} exited {result.exit_code} in {cwd}:\n{detail}")
        return result


def setup_run(argv: list[str], cwd: Path) -> None:
    """A step that prepares a project (not timed); stops the benchmark when it fails."""
    proc = subprocess.run(argv, cwd=cwd, env=child_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}:\n{proc.stdout}{proc.stderr}")


@dataclass
class Case:
    name: str
    target: float
    cwd: Path
    migratectl: list[str]
    alembic: list[str]
    expect_exit: int = 0
    reset: Callable[[], None] | None = None
    report_memory: bool = False
    runs: dict[str, list[Measurement]] = field(
        default_factory=lambda: {"migratectl": [], "alembic": []}
    )

    def median(self, tool: str, what: str) -> float:
        return statistics.median(getattr(m, what) for m in self.runs[tool])

    def run_once(self, tool: str, *, record: bool) -> None:
        if self.reset is not None:
            self.reset()
        argv = self.migratectl if tool == "migratectl" else self.alembic
        result = measure(argv, self.cwd)
        if result.exit_code != self.expect_exit:
            raise RuntimeError(
                f"{self.name}: {' '.join(argv)} exited {result.exit_code}, "
                f"expected {self.expect_exit} (set BENCH_SHOW_OUTPUT=1 to see its output)"
            )
        if record:
            self.runs[tool].append(result)


# --------------------------------------------------------------------------- PostgreSQL


class Postgres:
    """Creates the benchmark's databases on a server, and drops them at the end."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

        self.url = make_url(url)
        self.text = text
        self.admin = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as connection:
            connection.execute(text("SELECT 1"))
        self.created: list[str] = []

    def create(self, suffix: str) -> str:
        name = f"mcbench_{uuid.uuid4().hex[:8]}_{suffix}"
        with self.admin.connect() as connection:
            connection.execute(self.text(f"CREATE DATABASE {name}"))
        self.created.append(name)
        return self.url_for(name)

    def url_for(self, name: str, port: int | None = None) -> str:
        url = self.url.set(database=name)
        if port is not None:
            url = url.set(host="127.0.0.1", port=port)
        return url.render_as_string(hide_password=False)

    def recreate(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(self.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(self.text(f"CREATE DATABASE {name}"))
        time.sleep(0.5)  # let the server finish writing the new database before the next run

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(self.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self.admin.dispose()


@contextmanager
def latency_proxy(host: str, port: int, delay_ms: float) -> Iterator[int]:
    """A bench/latency_proxy.py child on 127.0.0.1; yields its port, stops it afterwards."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(PROXY),
            f"--target={host}:{port}",
            f"--delay-ms={delay_ms}",
            "--lifetime=3600",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("port "):
            raise RuntimeError(f"the latency proxy did not start: {line!r}")
        yield int(line.split()[1])
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- projects


def tools(folder: Path, name: str) -> tuple[list[str], list[str]]:
    """The two command prefixes for configuration ``name`` of the project in ``folder``."""
    migratectl = [executable("migratectl"), "-c", str(folder / f"migratectl-{name}.toml")]
    alembic = [executable("alembic"), "-c", str(folder / f"alembic-{name}.ini")]
    return migratectl, alembic


def make_project(folder: Path, package: str, models: int) -> str:
    folder.mkdir(parents=True)
    models_module = projects.write_models(folder, package, models)
    projects.write_alembic_env(folder, models_module)
    return models_module


def build_cases(root: Path, pg: Postgres | None, stack: ExitStack) -> list[Case]:
    cases: list[Case] = []
    migratectl_bin, alembic_bin = executable("migratectl"), executable("alembic")
    cases.append(Case("--help", 0.25, root, [migratectl_bin, "--help"], [alembic_bin, "--help"]))

    # current, one table, SQLite
    small = root / "small"
    small_models = make_project(small, "smallapp", 1)
    projects.write_configs(small, "sqlite", f"sqlite:///{small / 'app.db'}", small_models)
    m, a = tools(small, "sqlite")
    setup_run([*m, "init"], small)
    setup_run([*m, "migrate", "-m", "initial"], small)
    setup_run([*m, "upgrade"], small)
    cases.append(Case("current, 1 table (SQLite)", 0.8, small, [*m, "current"], [*a, "current"]))

    # current and check, 500 models
    big = root / "big"
    big_models = make_project(big, "bigapp", TABLES)
    projects.write_configs(big, "sqlite", f"sqlite:///{big / 'app.db'}", big_models)
    m_sqlite, a_sqlite = tools(big, "sqlite")
    if pg is not None:
        url = pg.create("check")
        projects.write_configs(big, "pg", url, big_models)
        m_pg, a_pg = tools(big, "pg")
        setup_run([*m_pg, "init"], big)
        setup_run([*m_pg, "migrate", "-m", "initial"], big)
        setup_run([*m_pg, "upgrade"], big)
    else:
        setup_run([*m_sqlite, "init"], big)
        setup_run([*m_sqlite, "migrate", "-m", "initial"], big)
    setup_run([*m_sqlite, "stamp", "head"], big)
    cases.append(
        Case(
            f"current, {TABLES} models (SQLite)",
            0.4,
            big,
            [*m_sqlite, "current"],
            [*a_sqlite, "current"],
        )
    )
    if pg is not None:
        cases.append(
            Case(
                f"check, {TABLES} tables (PostgreSQL)",
                0.7,
                big,
                [*m_pg, "check"],
                [*a_pg, "check"],
                report_memory=True,
            )
        )
        host, port = pg.url.host or "127.0.0.1", pg.url.port or 5432
        for delay, target in ((1, 0.5), (10, 0.15)):
            proxy_port = stack.enter_context(latency_proxy(host, port, delay))
            database = url.rsplit("/", 1)[1]
            projects.write_configs(
                big, f"pg{delay}ms", pg.url_for(database, port=proxy_port), big_models
            )
            m_lat, a_lat = tools(big, f"pg{delay}ms")
            cases.append(
                Case(
                    f"check, {TABLES} tables, +{delay} ms each way",
                    target,
                    big,
                    [*m_lat, "check"],
                    [*a_lat, "check"],
                )
            )

    # upgrade of a revision chain, from an empty database each time
    chain = root / "chain"
    chain_models = make_project(chain, "chainapp", 1)
    db_file = chain / "app.db"
    projects.write_configs(chain, "sqlite", f"sqlite:///{db_file}", chain_models)
    m, a = tools(chain, "sqlite")
    setup_run([*m, "init"], chain)
    projects.write_revision_chain(chain / "migrations" / "versions", REVISIONS)
    cases.append(
        Case(
            f"upgrade, {REVISIONS} revisions (SQLite)",
            1.0,
            chain,
            [*m, "upgrade"],
            [*a, "upgrade", "head"],
            reset=lambda: db_file.unlink(missing_ok=True),
        )
    )
    if pg is not None:
        chain_url = pg.create("chain")
        chain_db = chain_url.rsplit("/", 1)[1]
        projects.write_configs(chain, "pg", chain_url, chain_models)
        m, a = tools(chain, "pg")
        cases.append(
            Case(
                f"upgrade, {REVISIONS} revisions (PostgreSQL)",
                1.0,
                chain,
                [*m, "upgrade"],
                [*a, "upgrade", "head"],
                reset=lambda: pg.recreate(chain_db),
            )
        )
    cases.extend(verify_cases(root, pg))
    return cases


def verify_cases(root: Path, pg: Postgres | None) -> list[Case]:
    """``migratectl verify`` against pytest-alembic's four built-in tests, on a history of
    VERIFY_REVISIONS revisions whose models match at head, each on an empty database of its
    own making (verify: its temporary scratch database; pytest-alembic: the fixture's)."""
    folder = root / "verify"
    models = projects.write_chain_models(folder, "verifyapp", VERIFY_REVISIONS)
    projects.write_alembic_env(folder, models)
    targets = [("sqlite", f"sqlite:///{folder / 'app.db'}", "SQLite")]
    if pg is not None:
        targets.append(("pg", pg.create("verify"), "PostgreSQL"))
    cases = []
    for name, url, label in targets:
        projects.write_configs(folder, name, url, models)
        projects.write_pytest_alembic(folder, name, url)
        m, _ = tools(folder, name)
        if name == "sqlite":
            setup_run([*m, "init"], folder)
            projects.write_revision_chain(folder / "migrations" / "versions", VERIFY_REVISIONS)
        pytest_alembic = [
            sys.executable,
            "-m",
            "pytest",
            f"tests-{name}",
            "-p",
            "no:xdist",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:migratectl",
            "-q",
            f"--rootdir={folder}",
        ]
        cases.append(
            Case(
                f"verify vs pytest-alembic, {VERIFY_REVISIONS} revisions ({label})",
                0.5,
                folder,
                [*m, "verify"],
                pytest_alembic,  # in the report's alembic column
            )
        )
    return cases


# --------------------------------------------------------------------------- report


def report(cases: list[Case], runs: int) -> str:
    rows: list[tuple[str, str, str, float, str, float]] = []
    for case in cases:
        m, a = case.median("migratectl", "seconds"), case.median("alembic", "seconds")
        cpu = case.median("migratectl", "cpu_seconds") / case.median("alembic", "cpu_seconds")
        rows.append((case.name, f"{m:.3f} s", f"{a:.3f} s", m / a, f"{cpu:.2f}", case.target))
    for case in cases:
        if case.report_memory:
            m_rss = case.median("migratectl", "max_rss_kb")
            a_rss = case.median("alembic", "max_rss_kb")
            name = f"peak memory, {case.name}"
            m_text, a_text = f"{m_rss / 1024:.0f} MB", f"{a_rss / 1024:.0f} MB"
            rows.append((name, m_text, a_text, m_rss / a_rss, "", 1.1))
    if not rows:
        return "No case ran."
    width = max(len(r[0]) for r in rows)
    lines = [
        f"| {'case':<{width}} | migratectl | alembic   | ratio | target | met | cpu ratio |",
        f"| {'-' * width} | ---------- | --------- | ----- | ------ | --- | --------- |",
    ]
    for name, m_text, a_text, ratio, cpu_text, target in rows:
        met = "yes" if ratio <= target else "NO"
        lines.append(
            f"| {name:<{width}} | {m_text:>10} | {a_text:>9} | {ratio:5.2f} | "
            f"≤{target:<5.2f} | {met:<3} | {cpu_text:>9} |"
        )
    import alembic
    import sqlalchemy

    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines.append("")
    lines.append(
        f"Medians of {runs} interleaved runs after one warm-up run each; ratio = migratectl / "
        "alembic in wall time (cpu ratio: in user + system time of the process). "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"Alembic {alembic.__version__}, {os.cpu_count()} CPUs, load average {load}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs instead of 5")
    parser.add_argument("--runs", type=int, help="timed runs per tool and case")
    parser.add_argument("--only", help="run only the cases whose name contains this text")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL cases")
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)

    root = Path(tempfile.mkdtemp(prefix="migratectl-bench-"))
    pg: Postgres | None = None
    proxies = ExitStack()
    try:
        if not args.no_postgres:
            try:
                pg = Postgres(args.postgres_url)
            except Exception as exc:  # no server: the SQLite cases still run
                print(f"PostgreSQL cases skipped: {str(exc).splitlines()[0]}", file=sys.stderr)
        print(f"Generating the projects in {root} ...", file=sys.stderr)
        cases = build_cases(root, pg, proxies)
        if args.only:
            cases = [c for c in cases if args.only in c.name]
        for case in cases:
            print(f"{case.name}: ", end="", file=sys.stderr, flush=True)
            for tool in ("migratectl", "alembic"):
                case.run_once(tool, record=False)  # warm-up: caches, .pyc files
            for run in range(runs):
                order = ("migratectl", "alembic") if run % 2 == 0 else ("alembic", "migratectl")
                for tool in order:
                    case.run_once(tool, record=True)
                print(".", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
        print(report(cases, runs))
    finally:
        proxies.close()
        if pg is not None:
            pg.drop_all()
        if args.keep:
            print(f"Projects kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
