"""A throwaway PostgreSQL cluster for tests and benchmarks: initdb into a temp dir, start, drop.

Self-contained: needs only the server binaries (Debian's `postgresql` package, installed by
`bash .ci/install`). PostgreSQL refuses to run as root, so as root the cluster belongs to the
`postgres` system user and every server command runs through `runuser -u postgres --`.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sipantau.bench.procs import free_port

INSTALL_HINT = "PostgreSQL server binaries (initdb, pg_ctl) not found: run `bash .ci/install`"
SUPERUSER = "sipantau"
SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",  # a throwaway cluster: speed over durability
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # several services, each with API and worker pools
}
DURABLE = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}


class PgUnavailable(RuntimeError):
    """The server binaries or the `postgres` user are missing, or the cluster would not start."""


def find_bin_dir() -> Path:
    """The directory of the newest installed `initdb` (Debian layout first, then PATH)."""

    def version(path: str) -> tuple[int, ...]:
        match = re.search(r"/postgresql/([\d.]+)/bin/", path)
        return tuple(int(p) for p in match.group(1).split(".")) if match else ()

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).parent
    raise PgUnavailable(INSTALL_HINT)


@dataclass
class PgCluster:
    """A running cluster; `create_database` gives each test module a fresh, empty database."""

    root: Path
    bin_dir: Path
    port: int
    run_as: str | None  # the system user the server runs as, when we are root
    durable: bool = False  # a crash keeps every acknowledged commit (fault benchmarks)
    started_s: float = 0.0  # how long initdb + start took
    _names: set[str] = field(default_factory=set)
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE `name` (lower-cased, other characters made `_`); its SQLAlchemy URL."""
        import psycopg

        dbname = re.sub(r"[^a-z0-9_]", "_", name.lower())[:63]
        if dbname in self._names:
            raise ValueError(f"database {dbname!r} already created in this cluster")
        dsn = f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        self._names.add(dbname)
        return self.url(dbname)

    def _start(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        settings = SETTINGS | DURABLE if self.durable else SETTINGS
        opts = " ".join(f"-c {k}={v}" for k, v in settings.items())
        opts += f" -p {self.port} -k {self.socket_dir}"
        start = ["-D", str(self.data_dir), "-l", str(self.log_file), "-o", opts]
        return _run(self, "pg_ctl", *start, "-w", "-t", "60", "start", check=check)

    def restart(self, down_s: float = 0.0) -> None:
        """Crash the server (immediate stop, no checkpoint), stay down, start it on its port."""
        _run(self, "pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        time.sleep(down_s)
        self._start()

    def stop(self) -> None:
        """Stop the server at once and remove its files; safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        _run(self, "pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def _run(
    cluster: PgCluster, tool: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    cmd = [str(cluster.bin_dir / tool), *args]
    if cluster.run_as:
        cmd = ["runuser", "-u", cluster.run_as, "--", *cmd]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    # cwd: the server's user may not be allowed into the caller's working directory
    proc = subprocess.run(cmd, cwd=cluster.root, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise PgUnavailable(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
            f"server log:\n{cluster.log_tail()}"
        )
    return proc


def _owner_for_root() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise PgUnavailable(
            "running as root, and PostgreSQL will not: the `postgres` system user is missing "
            "(it comes with Debian's postgresql package): run `bash .ci/install`"
        ) from None
    if shutil.which("runuser") is None:
        raise PgUnavailable("running as root without `runuser` (util-linux) to drop to postgres")
    return "postgres"


def start_cluster(attempts: int = 3, durable: bool = False) -> PgCluster:
    """initdb a fresh cluster in a temp dir and start it on a free loopback port; `durable`
    keeps PostgreSQL's crash safety (fsync, synchronous commit), which tests trade for speed."""
    bin_dir = find_bin_dir()
    run_as = _owner_for_root()
    t0 = time.monotonic()
    # mkdtemp in the system temp dir, not pytest's tmp_path: `postgres` must reach it
    root = Path(tempfile.mkdtemp(prefix="sipantau-pg-"))
    if run_as:
        user = pwd.getpwnam(run_as)
        os.chown(root, user.pw_uid, user.pw_gid)
    cluster = PgCluster(root=root, bin_dir=bin_dir, port=0, run_as=run_as, durable=durable)
    atexit.register(cluster.stop)
    try:
        initdb = ["-D", str(cluster.data_dir), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
        _run(cluster, "initdb", *initdb, "--locale=C", "--no-sync")
        for attempt in range(attempts):
            cluster.port = free_port()
            proc = cluster._start(check=attempt == attempts - 1)
            if proc.returncode == 0:
                break
    except BaseException:
        cluster.stop()
        raise
    cluster.started_s = time.monotonic() - t0
    return cluster
