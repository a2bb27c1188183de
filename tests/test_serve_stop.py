"""`sipantau serve` as a real process: a taken port fails before anything starts, and a stop
signal at any moment leaves no worker behind and restarts none."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from sipantau.bench.procs import free_port, wait_http
from tests.service import process_alive, sipantau_executable


def serve_command(data: Path, port: int, *extra: str) -> list[str]:
    db = f"sqlite:///{data / 'sipantau.db'}"
    cmd = [str(sipantau_executable()), "serve", "--data", str(data), "--database-url", db]
    return cmd + ["--host", "127.0.0.1", "--port", str(port), "--no-ui", *extra]


def group_members(pgid: int) -> list[int]:
    """Live processes (not zombies) of process group `pgid`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(stat.parent.name))
    return out


def worker_children(pid: int) -> list[int]:
    """Reading workers whose parent is `pid`."""
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmd = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if ppid == pid and b"sipantau.api.infra.worker" in cmd:
            out.append(int(proc.name))
    return out


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def test_a_taken_port_fails_before_the_demo_is_made(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    data = tmp_path / "data"
    try:
        done = subprocess.run(
            serve_command(data, port, "--demo"), capture_output=True, text=True, timeout=120
        )
    finally:
        holder.close()
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert f"port {port}" in done.stderr and "sudah dipakai" in done.stderr, done.stderr
    assert "http://" not in done.stdout and "Akun demo" not in done.stdout, done.stdout
    assert not (data / "demo-credentials.json").exists()
    assert not (data / "sipantau.db").exists()  # not even migrated


def test_sigterm_while_starting_stops_the_workers_it_started(tmp_path: Path) -> None:
    """SIGTERM to serve alone the moment its first worker exists (it is still sending the
    demo's sample photos, before uvicorn handles signals): no worker may outlive it."""
    cmd = serve_command(tmp_path / "data", free_port(), "--demo", "--workers", "2")
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (seen := worker_children(proc.pid)):
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
        time.sleep(1.0)  # a worker only half started gets a moment to show itself
        seen += worker_children(proc.pid)
        left = [pid for pid in set(seen) if process_alive(pid)]
        assert left == [], f"workers left running after serve exited: {left}"
        assert group_members(proc.pid) == []
        text = (tmp_path / "serve.log").read_text(errors="replace")
        assert code == 0, text[-3000:]
        assert "killed" not in text, text[-3000:]  # the workers heard SIGTERM themselves
    finally:
        kill_group(proc.pid)
        proc.wait()
        log.close()


def test_sigterm_to_the_group_restarts_no_worker(tmp_path: Path) -> None:
    """A stop signal to serve and its workers (systemd, a terminal's Ctrl-C) while a request
    is still open: the workers exit at once, serve waits for the request, and must not
    start new workers meanwhile; once it exits nothing of it is left."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    cmd = serve_command(tmp_path / "data", port, "--workers", "2")
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/v1/health", 120, proc)
        deadline = time.monotonic() + 60
        while len(list((tmp_path / "data" / "run" / "workers").glob("*.pid"))) < 2:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        first = set(worker_children(proc.pid))
        slow = socket.create_connection(("127.0.0.1", port))  # a request still being sent
        slow.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(3.0)  # the workers are gone; serve still waits for the open request
        assert proc.poll() is None, "serve did not wait for the open request"
        assert not [p for p in first if process_alive(p)], "workers ignored the group's SIGTERM"
        later = set(worker_children(proc.pid))
        slow.close()
        code = proc.wait(30)
        text = log_path.read_text(errors="replace")
        assert "restarting" not in text, text[-3000:]
        assert later <= first, f"new workers started while stopping: {later - first}"
        time.sleep(0.5)
        assert group_members(proc.pid) == [], "processes of serve left running"
        assert code == 0, text[-3000:]
    finally:
        kill_group(proc.pid)
        proc.wait()
        log.close()
