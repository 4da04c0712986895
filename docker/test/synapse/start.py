"""Entry point of the Synapse stand-in (tests/docker). It keeps the parts of the official
image's contract (docker/start.py in element-hq/synapse) that compose.yaml and
docs/self-hosting.md rely on:

- `generate`: SYNAPSE_SERVER_NAME and SYNAPSE_REPORT_STATS are required; writes the config
  (SYNAPSE_CONFIG_PATH, default SYNAPSE_CONFIG_DIR/homeserver.yaml, default /data), a log
  config at SYNAPSE_CONFIG_DIR/<server name>.log.config that logs to standard error, and the
  signing key; the data in SYNAPSE_DATA_DIR (/data); private ports open.
- `run` (the default): Synapse with the arguments given, or with the default config path when
  none is given; a missing config is one line saying to run `generate`.
- as root, Synapse runs as UID:GID (default 991:991), and `generate` hands /data to them.

Not kept: `migrate_config` and the templates, workers, jemalloc.
"""

import os
import subprocess
import sys


LOG_CONFIG = """version: 1
formatters:
  plain:
    format: "%(asctime)s %(levelname)s %(name)s: %(message)s"
handlers:
  stderr:
    class: logging.StreamHandler
    formatter: plain
root:
  level: INFO
  handlers: [stderr]
disable_existing_loggers: false
"""


def fail(text: str) -> None:
    print(text, file=sys.stderr)
    sys.exit(1)


def main(argv: list[str], env: dict[str, str]) -> None:
    mode = argv[1] if len(argv) > 1 else "run"
    owner = None
    if "UID" in env:
        owner = f"{int(env['UID'])}:{int(env.get('GID', '991'))}"
    elif os.getuid() == 0:
        owner = "991:991"
    config_dir = env.get("SYNAPSE_CONFIG_DIR", "/data")
    config_path = env.get("SYNAPSE_CONFIG_PATH", f"{config_dir}/homeserver.yaml")
    as_owner = ["gosu", owner] if owner else []
    if mode == "generate":
        for name in ("SYNAPSE_SERVER_NAME", "SYNAPSE_REPORT_STATS"):
            if name not in env:
                fail(f"generate needs {name} in the environment")
        data_dir = env.get("SYNAPSE_DATA_DIR", "/data")
        # Logs to standard error (`docker compose logs synapse`), written before Synapse
        # generates its config so that the config names it instead of a log file of its own.
        log_config = f"{config_dir}/{env['SYNAPSE_SERVER_NAME']}.log.config"
        if not os.path.exists(log_config):
            with open(log_config, "w") as file:
                file.write(LOG_CONFIG)
        if owner:
            subprocess.run(["chown", owner, data_dir, log_config], check=True)
        generate = [
            sys.executable, "-m", "synapse.app.homeserver",
            "--server-name", env["SYNAPSE_SERVER_NAME"],
            "--report-stats", env["SYNAPSE_REPORT_STATS"],
            "--config-path", config_path, "--config-directory", config_dir,
            "--data-directory", data_dir, "--generate-config", "--open-private-ports",
        ]  # fmt: skip
        subprocess.run(as_owner + generate, check=True)
        return
    if mode != "run":
        fail(f"unknown mode {mode!r}: generate or run")
    args = argv[2:]
    if "-m" not in args:
        args = ["-m", env.get("SYNAPSE_WORKER", "synapse.app.homeserver"), *args]
    if not any(a.startswith(("--config-path", "-c")) for a in args):
        if not os.path.exists(config_path):
            fail(
                f"no config at {config_path}: run the image with `generate` first, "
                "or name one with SYNAPSE_CONFIG_PATH"
            )
        args += ["--config-path", config_path]
    command = [*as_owner, sys.executable, *args]
    sys.stdout.flush()
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv, dict(os.environ))
