"""A Docker engine of the test's own, and the local images it needs (tests/docker).

The engine is Debian's dockerd with its own socket, data root, exec root and pidfile, without
iptables or a bridge network (only loopback traffic is allowed where the test runs); it is
stopped by its PID at the end. No registry is reachable there either, so the base image is a
Debian bookworm made with debootstrap, and the Synapse and PostgreSQL images are stand-ins built
on it (docker/test/). The data root and the debootstrap tarball are kept between runs under
LINLI_DOCKER_CACHE (default /var/cache/linli-docker): the base and the stand-ins are built once
per machine, and again only when their files change.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("LINLI_DOCKER_CACHE", "/var/cache/linli-docker"))
RUN_DIR = Path("/run/linli-docker")
BASE_IMAGE = "linli-test/debian:bookworm"
BASE_PACKAGES = "python3,python3-venv,python-is-python3,ca-certificates,curl"
MIRROR = "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


class EngineUnavailable(Exception):
    """Docker cannot start here (no root, no dockerd): the one line the target prints."""


def why_not_here() -> str | None:
    """None when this machine can start the test's engine; else the reason, in one line."""
    if os.geteuid() != 0:
        return "the Docker test needs root to start its own dockerd (run it as root, as CI does)"
    for tool in ("dockerd", "debootstrap", "docker-compose"):
        if shutil.which(tool) is None:
            return f"the Docker test needs {tool} (docker/test/install.sh installs it)"
    return None


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> str:
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


@dataclass
class Engine:
    data_root: Path = CACHE / "engine"
    run_dir: Path = RUN_DIR
    timings: dict[str, float] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "dockerd.pid"

    @property
    def env(self) -> dict[str, str]:
        """The environment for docker and docker-compose: this engine, Debian's client."""
        path = "/usr/bin:/usr/sbin:" + os.environ.get("PATH", "")
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}", "PATH": path}

    def docker(self, *args: str, timeout: float = 900) -> str:
        return _run("/usr/bin/docker", *args, env=self.env, timeout=timeout)

    def start(self) -> None:
        self._stop_leftover()
        self.data_root.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (CACHE / "dockerd.log").open("wb")
        self._process = subprocess.Popen(
            [
                "dockerd",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--data-root",
                str(self.data_root),
                "--exec-root",
                str(self.run_dir / "exec"),
                "--pidfile",
                str(self.pidfile),
                "-H",
                f"unix://{self.socket}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EngineUnavailable(
                    f"dockerd exited ({self._process.returncode}); see {CACHE / 'dockerd.log'}"
                )
            if (
                subprocess.run(
                    ["/usr/bin/docker", "info"], env=self.env, capture_output=True, check=False
                ).returncode
                == 0
            ):
                return
            time.sleep(0.5)
        self.stop()
        raise EngineUnavailable(f"dockerd did not answer in 60 s; see {CACHE / 'dockerd.log'}")

    def _stop_leftover(self) -> None:
        """A dockerd a killed earlier run left on this socket: stopped by its pidfile's PID."""
        try:
            pid = int(self.pidfile.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return
        if b"dockerd" in cmdline and str(self.data_root).encode() in cmdline:
            _terminate(pid)

    def stop(self) -> None:
        if self._process is None:
            return
        _terminate(self._process.pid)
        self._process.wait()
        self._process = None

    # ------------------------------------------------------------ images

    def has_image(self, name: str, label: str | None = None) -> bool:
        done = subprocess.run(
            ["/usr/bin/docker", "image", "inspect", "--format",
             "{{index .Config.Labels \"linli.test.files\"}}", name],
            env=self.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.returncode == 0 and (label is None or done.stdout.strip() == label)

    def base_image(self) -> str:
        """Debian bookworm with Python 3.11 (debootstrap, cached as a tarball), imported once.
        It trusts the host's CA bundle, so that pip and apt inside a build reach the package
        registries as the host does."""
        if self.has_image(BASE_IMAGE):
            return BASE_IMAGE
        started = time.monotonic()
        tarball = CACHE / "bookworm-rootfs.tar"
        if not tarball.exists():
            rootfs = CACHE / "rootfs"
            shutil.rmtree(rootfs, ignore_errors=True)
            _run(
                "debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}",
                "bookworm", str(rootfs), MIRROR, timeout=1200,
            )  # fmt: skip
            shutil.copy(HOST_CA, rootfs / "etc/ssl/certs/ca-certificates.crt")
            (rootfs / "etc/pip.conf").write_text(f"[global]\ncert = {HOST_CA}\n")
            for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
                deb.unlink()
            partial = tarball.with_suffix(".partial")
            _run("tar", "-C", str(rootfs), "-cf", str(partial), ".")
            partial.rename(tarball)
            shutil.rmtree(rootfs, ignore_errors=True)
        _run(
            "/usr/bin/docker", "import", "--change", "ENV LANG=C.UTF-8",
            "--change", 'CMD ["/bin/bash"]', str(tarball), BASE_IMAGE, env=self.env,
        )  # fmt: skip
        self.timings["base image"] = time.monotonic() - started
        return BASE_IMAGE

    def stand_in(self, name: str, **build_args: str) -> str:
        """docker/test/<name>/ built on the base, tagged by its files and build arguments."""
        context = REPO / "docker" / "test" / name
        digest = hashlib.sha256()
        for path in sorted(context.iterdir()):
            digest.update(path.name.encode() + path.read_bytes())
        for key, value in sorted(build_args.items()):
            digest.update(f"{key}={value}".encode())
        label = digest.hexdigest()[:16]
        image = f"linli-test/{name}:{label}"
        if self.has_image(image, label):
            return image
        started = time.monotonic()
        args = [f"--build-arg=BASE={self.base_image()}"]
        args += [f"--build-arg={k}={v}" for k, v in build_args.items()]
        self.docker(
            "build", "--network", "host", "--label", f"linli.test.files={label}",
            *args, "-t", image, str(context), timeout=1500,
        )  # fmt: skip
        self.timings[f"{name} stand-in"] = time.monotonic() - started
        return image


def _terminate(pid: int, grace: float = 30) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:  # our own child: reap it, or it stays a zombie that kill(0) still finds
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
