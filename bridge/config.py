"""Typed configuration: `bridge.yaml` and the compounds in `rooms_config/`.

Every file is validated by a pydantic model with unknown keys forbidden; any failure becomes
`ConfigError`, whose lines read "file:line: key: what is wrong", before anything reaches the
homeserver.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from bridge.yaml_source import Loc, YamlSource, YamlSyntaxError, load_yaml

# Matrix user IDs as the spec's "historical" grammar allows, server name with optional port.
USER_ID_RE = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:\d{1,5})?$")
Key = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,40}$")]
Locale = Literal["zh", "en"]
M = TypeVar("M", bound=BaseModel)


def _check_user_id(value: str) -> str:
    if not USER_ID_RE.match(value):
        raise ValueError(f"{value!r} is not a Matrix user ID like @name:server")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a folder of the zone database ("America") or too long for a
        # file name reaches the file system before it is found unknown.
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


UserId = Annotated[str, AfterValidator(_check_user_id)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- bridge.yaml


class HomeserverConfig(Strict):
    url: str = "http://127.0.0.1:8008"
    server_name: str = "linli.localhost"


class AppserviceConfig(Strict):
    id: str = "linli"
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=29330, ge=1, le=65535)
    # How the homeserver reaches Linli; goes into the registration file.
    url: str = "http://127.0.0.1:29330"
    as_token: str = Field(min_length=16)
    hs_token: str = Field(min_length=16)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # A transaction is acknowledged once stored and handled, or after this long at most
    # (bridge/appservice.py says why); 0 acknowledges as soon as it is stored...
    ack_wait_seconds: float = Field(default=1.0, ge=0, le=30)
    # ...but at once for this long after Linli starts or refuses a transaction, while the
    # homeserver may be delivering a backlog.
    ack_wait_after_seconds: float = Field(default=60.0, ge=0)

    @field_validator("as_token", "hs_token")
    @classmethod
    def _not_placeholder(cls, value: str) -> str:
        if value.startswith("CHANGE_ME"):
            raise ValueError("still the placeholder: run `linli init --force` for fresh tokens")
        return value


class DatabaseConfig(Strict):
    url: str = "sqlite+aiosqlite:///linli.db"
    # SQLite only. "full": every commit reaches the disk before Linli answers (survives power
    # loss). "normal": commits survive a crash of Linli itself but the last ones may be lost
    # on power loss; each write costs no fsync (see bench/tickets.py for the difference).
    sqlite_synchronous: Literal["full", "normal"] = "full"


class MetricsConfig(Strict):
    """The operators' listener: Prometheus's /metrics, and /health again (bridge/ops.py).
    Apart from the appservice port; loopback unless a scraper elsewhere must reach it."""

    enabled: bool = True
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(default=29331, ge=0, le=65535)  # 0: any free port (tests)


class BotsConfig(Strict):
    main: Key = "linli"  # creates the rooms and speaks for every bot
    # Every user ID starting with this localpart prefix belongs to Linli (exclusive namespace).
    namespace_prefix: Key = "linli"
    # How the bot is named to residents, per language: its profile takes the bridge's
    # `locale`; rooms of a compound in another language show that language's name.
    display_name: dict[Locale, str] = {"zh": "邻里小助手", "en": "Linli helper"}
    avatar: Path | None = None  # a PNG of the operator's; None: Linli's own (a green 邻)


class JoinConfig(Strict):
    # A community's own Element (e.g. https://chat.example.org); matrix.to links when unset.
    client_url: str | None = None


class WebhookTarget(Strict):
    """An outside system Linli exchanges signed webhooks with (e.g. the grid platform)."""

    url: str
    secret: str = Field(min_length=16)  # signs what Linli sends
    inbound_secret: str | None = Field(default=None, min_length=16)  # checks what it receives
    # Compounds it may post notices to by webhook (as when a compound's `notices.senders`
    # names it): the demo's water company, a street office's feed.
    notice_compounds: list[str] = []


class DashboardConfig(Strict):
    """The staff back office (bridge/dashboard): a page and an API on the appservice listener,
    shown in the staff rooms as a widget and opened by URL on a phone."""

    enabled: bool = True
    # Where staff's browsers reach Linli (the operator's proxy in front of the appservice
    # port); None: appservice.url. The widget URL and the page's origin.
    public_url: str | None = None
    # Where a phone's browser reaches the homeserver's client API for its login; None:
    # homeserver.url.
    homeserver_public_url: str | None = None
    # A session of Linli's own after the OpenID exchange; the page asks for a new one.
    session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Exchanges per client address and minute (a token guesser gets nowhere).
    exchanges_per_minute: int = Field(default=10, ge=1, le=1000)


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class LoggingConfig(Strict):
    """What Linli logs and where. INFO says what Linli did; third-party libraries stay at
    WARNING (their DEBUG output can carry SQL parameters: names, addresses) unless named in
    `levels`."""

    level: LogLevel = "INFO"
    format: Literal["text", "json"] = "text"
    # A file (relative to bridge.yaml's folder), rotated at `max_bytes`, `backups` kept;
    # without one, standard error (what systemd's journal and Docker collect).
    file: Path | None = None
    max_bytes: int = Field(default=10_000_000, ge=10_000)
    backups: int = Field(default=5, ge=0, le=100)
    # Per logger: {"bridge.provision": "DEBUG", "aiosqlite": "DEBUG"}.
    levels: dict[str, LogLevel] = {}


class BridgeConfig(Strict):
    homeserver: HomeserverConfig = HomeserverConfig()
    appservice: AppserviceConfig
    database: DatabaseConfig = DatabaseConfig()
    metrics: MetricsConfig = MetricsConfig()
    rooms_config: Path = Path("rooms_config")
    bots: BotsConfig = BotsConfig()
    # Prepended to every alias Linli creates, so two deployments can share one homeserver.
    alias_prefix: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{0,20}$")] = ""
    locale: Locale = "zh"
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "Asia/Shanghai"
    join: JoinConfig = JoinConfig()
    webhooks: dict[str, WebhookTarget] = {}
    logging: LoggingConfig = LoggingConfig()
    dashboard: DashboardConfig = DashboardConfig()
    # The key of secret ballots' receipt codes: a file of its own (0600), made by `linli init`,
    # never in the database; relative to bridge.yaml's folder (default: receipt.key there).
    receipt_key_file: Path | None = None

    @property
    def dashboard_url(self) -> str:
        """The back office page (the widget's URL without its template variables)."""
        base = self.dashboard.public_url or self.appservice.url
        return base.rstrip("/") + "/linli/dashboard/"

    @property
    def bot_user_id(self) -> str:
        return f"@{self.bots.main}:{self.homeserver.server_name}"

    def is_linli_user(self, user_id: str) -> bool:
        localpart = user_id[1:].split(":", 1)[0]
        server = user_id.split(":", 1)[-1]
        return server == self.homeserver.server_name and localpart.startswith(
            self.bots.namespace_prefix
        )


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class ConfigIssue:
    path: Path
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))


def _issues_from_validation(source: YamlSource, error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for item in error.errors():
        # pydantic adds "[key]" for dict keys and type names for unions: not part of the YAML path
        loc: Loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and (p.startswith("[") or "-" in p))
        )
        loc = tuple(p for p in loc if not (isinstance(p, str) and p in _UNION_TAGS))
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        issues.append(
            ConfigIssue(source.path, source.line_of(loc), ".".join(str(p) for p in loc), message)
        )
    return issues


# pydantic names union members in `loc` (e.g. "list[str]", "RoomOverride"); skip them.
_UNION_TAGS = {"RoomOverride", "list[str]", "str"}


def validate_source(model: type[M], source: YamlSource) -> M:
    if not isinstance(source.data, dict):
        raise ConfigError([ConfigIssue(source.path, 1, "", "expected a mapping at the top")])
    try:
        return model.model_validate(source.data)
    except ValidationError as e:
        raise ConfigError(_issues_from_validation(source, e)) from e


def load_source(path: Path) -> YamlSource:
    try:
        return load_yaml(path)
    except YamlSyntaxError as e:
        raise ConfigError([ConfigIssue(e.path, e.line, "", e.problem)]) from e
    except OSError as e:
        raise ConfigError([ConfigIssue(path, 1, "", f"cannot read: {e.strerror}")]) from e


# ---------------------------------------------------------------- loading


def load_bridge_config(path: Path) -> BridgeConfig:
    """Load bridge.yaml; relative paths in it are relative to the file's folder."""
    source = load_source(path)
    config = validate_source(BridgeConfig, source)
    base = path.resolve().parent
    updates: dict[str, Any] = {"rooms_config": (base / config.rooms_config).resolve()}
    db_url = config.database.url
    prefix = "sqlite+aiosqlite:///"
    if db_url.startswith(prefix) and not db_url[len(prefix) :].startswith("/"):
        rel = db_url[len(prefix) :]
        if rel != ":memory:":
            # Only the URL changes: the rest of the section (sqlite_synchronous) stays as written.
            updates["database"] = config.database.model_copy(
                update={"url": prefix + str((base / rel).resolve())}
            )
    updates["receipt_key_file"] = (base / (config.receipt_key_file or "receipt.key")).resolve()
    if config.logging.file is not None:
        updates["logging"] = config.logging.model_copy(
            update={"file": (base / config.logging.file).resolve()}
        )
    return config.model_copy(update=updates)
