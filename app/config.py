"""The one settings object: every SHIPLOG_* environment variable is read here and nowhere else.

A settings file is read only when SHIPLOG_ENV_FILE names it: never a `.env` that
happens to lie in the current directory, which anyone who can write there (a
checkout being built, a shared working directory) could use to point shiplog at
another database or key.
"""

from __future__ import annotations

import getpass
import os
import socket
from functools import lru_cache
from pathlib import Path
from typing import Annotated

import platformdirs
from pydantic import Field, PositiveFloat, PositiveInt, field_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.pipeline.sandbox import MIN_PIDS, memory_bytes
from app.resources import migrations_dir

DEFAULT_CAPABILITIES: tuple[str, ...] = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "NET_BIND_SERVICE",
)
"""What a step keeps of Docker's default capabilities: enough to install packages and switch
users as root, not to forge packets (NET_RAW), make devices (MKNOD), chroot, or change file
capabilities (SETFCAP, SETPCAP) or write the audit log."""
ENV_FILE_VARIABLE = "SHIPLOG_ENV_FILE"


class ConfigError(ValueError):
    """Configuration that cannot be used, naming the setting."""


class Settings(BaseSettings):
    """shiplog's configuration, from SHIPLOG_* environment variables (and SHIPLOG_ENV_FILE)."""

    model_config = SettingsConfigDict(env_prefix="SHIPLOG_", env_file=None, extra="ignore")

    home: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("shiplog")),
        description="Where the embedded database, the signing key and other state live.",
    )
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL 15+ URL shiplog connects with, as the application role "
        "(`shiplog_app`: SELECT and INSERT on the ledger only). Unset: an embedded server "
        "under home.",
    )
    owner_database_url: str | None = Field(
        default=None,
        description="URL of the schema's owner, used only by `shiplog migrate` (with "
        "`database_url`). Unused by the embedded server, which sets up both roles itself.",
    )
    app_role: str = Field(
        default="shiplog_app",
        description="Role the application logs in as on the embedded server.",
    )
    migrations_dir: Path = Field(
        default_factory=migrations_dir,
        description="Directory of the NNNN_what.sql migrations. Unset: those shipped with shiplog.",
    )
    max_event_bytes: PositiveInt = Field(
        default=1024 * 1024, description="Largest canonical event accepted by append."
    )
    ledger_origin: str = Field(
        default="shiplog", description="Name of this ledger in signed checkpoints."
    )

    public_read: bool = Field(
        default=False,
        description="Let anyone read the pages and the API without signing in; writes still "
        "need a token. Off: reading needs the `viewer` role.",
    )
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("localhost", "127.0.0.1", "[::1]"),
        description="Host names the server answers to (the Host header; a defence against DNS "
        "rebinding); comma-separated in SHIPLOG_ALLOWED_HOSTS. `shiplog serve` adds the "
        "address it binds.",
    )
    max_clock_skew: PositiveFloat = Field(
        default=300.0,
        description="Seconds a reported time (a deployment's start, an incident's end, a "
        "CDEvent's timestamp) may lie ahead of this server's clock before it is refused.",
    )
    session_hours: PositiveFloat = Field(
        default=12.0, description="Hours a web sign-in lasts (never beyond its token's expiry)."
    )
    refusals_per_minute: PositiveInt = Field(
        default=6,
        description="AccessDenied events recorded per minute and actor at most (a flood of "
        "refused writes is counted, not recorded one by one).",
    )

    actor: str | None = Field(
        default=None, description="Who the CLI acts as in event metadata. Unset: user@host."
    )
    runner_name: str | None = Field(
        default=None, description="This runner's identity in RunClaimed. Unset: host:pid."
    )
    runner_concurrency: PositiveInt = Field(default=2, description="Runs one runner works at once.")
    step_parallelism: PositiveInt = Field(
        default=4, description="Independent steps of one run that may run at the same time."
    )
    heartbeat_interval: PositiveFloat = Field(
        default=5.0,
        description="Seconds between the heartbeats of a runner (and of a deployment's driver).",
    )
    heartbeat_timeout: PositiveFloat = Field(
        default=30.0,
        description="Seconds without a heartbeat after which a run's runner (or a deployment's "
        "driver) is lost.",
    )
    engine_wait: PositiveFloat = Field(
        default=60.0,
        description="Seconds a runner waits for a Docker engine that stopped answering to "
        "come back, before it gives up on removing the run's containers itself.",
    )
    push_attempts: PositiveInt = Field(
        default=3,
        description="How often a push step tries a push when the registry cannot be reached.",
    )
    push_retry_delay: PositiveFloat = Field(
        default=1.0,
        description="Seconds before a push's second attempt; doubled before each later one.",
    )
    database_retry: PositiveFloat = Field(
        default=30.0,
        description="Seconds an append or a read keeps retrying (with the same event ids) "
        "while the database is unreachable, e.g. during a restart.",
    )
    poll_interval: PositiveFloat = Field(
        default=1.0,
        description="Seconds between a runner's looks for lost runs, and for queued runs "
        "when no wake-up came (a runner is woken when a run is queued or a slot frees).",
    )
    osv_dir: Path | None = Field(
        default=None,
        description="Directory of OSV advisories (JSON files, zip exports) that scans match "
        "images against; read locally, never fetched. Unset: scans need `--osv-dir`.",
    )
    sbom_after_build: bool = Field(
        default=False,
        description="Make, store and record (SbomGenerated) the SBOM of every image a build "
        "step builds, right after it is built.",
    )

    environments_file: Path | None = Field(
        default=None,
        description="The environments file: environments, their order, swarms, rules and "
        "services (docs/delivery.md). Unset: `environments.yml` under home.",
    )
    delivery_poll_interval: PositiveFloat = Field(
        default=1.0, description="Seconds between two looks at a deployment that waits."
    )
    drift_interval: PositiveFloat = Field(
        default=60.0,
        description="Seconds between two comparisons of each environment's swarm with the "
        "ledger in `shiplog serve` (drift).",
    )

    secrets_keyring: Path | None = Field(
        default=None,
        description="The keyring file whose keys encrypt secrets at rest (never in the "
        "database); runners need a copy. Unset: keys/secrets.keyring under home.",
    )
    step_memory: str = Field(
        default="2g",
        description="Memory limit of a step or service container without `resources.memory`, "
        'swap included, e.g. "512m" or "2g".',
    )
    step_cpus: PositiveFloat = Field(
        default=2.0, description="CPUs a step or service may use without `resources.cpus`."
    )
    step_pids: Annotated[int, Field(ge=MIN_PIDS)] = Field(
        default=1024,
        description="Processes and threads a step or service may have at once without "
        "`resources.pids`; a step that reaches its limit is stopped and fails.",
    )
    step_max_memory: str = Field(
        default="16g", description="The most memory a step's `resources.memory` may ask for."
    )
    step_max_cpus: PositiveFloat = Field(
        default=16.0, description="The most CPUs a step's `resources.cpus` may ask for."
    )
    step_max_pids: PositiveInt = Field(
        default=32768, description="The most processes a step's `resources.pids` may ask for."
    )
    step_capabilities: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_CAPABILITIES,
        description="Linux capabilities step and service containers keep (all others are "
        "dropped), comma-separated; empty keeps none.",
    )
    step_user: str | None = Field(
        default=None,
        description="User a step runs as when neither the step (`user:`) nor its image names "
        "one, e.g. `65534:65534`. Unset: root, without the dropped capabilities.",
    )
    docker_cli: str | None = Field(
        default=None,
        description="The docker command that builds with BuildKit (for build steps with "
        "`secrets`). Unset: the first `docker` on PATH that can.",
    )
    live_feeds: PositiveInt = Field(
        default=200,
        description="Live feeds (the pages' server-sent events) one server process keeps open "
        "at once; one more is refused with 503 and Retry-After.",
    )
    live_feeds_per_client: PositiveInt = Field(
        default=16,
        description="Live feeds one client address may keep open at once (a run page opens "
        "one, plus one per running step).",
    )
    live_idle_seconds: PositiveFloat = Field(
        default=300.0,
        description="Seconds after which a live feed that has sent nothing ends; the "
        "browser reconnects and resumes where it was.",
    )

    public_url: str = Field(
        default="http://127.0.0.1:8080",
        description="The URL people and forges reach this shiplog at, e.g. "
        "`https://shiplog.example.com`: webhook set-up, links in notifications and commit "
        "statuses.",
    )

    notify_rules: Path | None = Field(
        default=None,
        description="YAML file of notification rules (docs/notifications.md). Unset: no "
        "rules; `notify` steps and commit statuses still deliver.",
    )
    notify_timeout: PositiveFloat = Field(
        default=10.0, description="Seconds a notification's receiver has to answer."
    )
    notify_attempts: PositiveInt = Field(
        default=8, description="Attempts at delivering one notification before giving up."
    )
    notify_retry_base: PositiveFloat = Field(
        default=5.0, description="Seconds before the first retry; each retry waits twice as long."
    )
    notify_retry_cap: PositiveFloat = Field(
        default=3600.0, description="The longest wait between two attempts (jitter below it)."
    )

    production_environments: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("production",),
        min_length=1,
        description="Environments whose deployments release velocity measures; in "
        "SHIPLOG_PRODUCTION_ENVIRONMENTS, comma-separated (e.g. `production,prod-eu`).",
    )

    @field_validator("production_environments", "allowed_hosts", "step_capabilities", mode="before")
    @classmethod
    def _split_names(cls, value: object) -> object:
        """A comma-separated string becomes its non-empty names."""
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("step_memory", "step_max_memory")
    @classmethod
    def _memory_size(cls, value: str) -> str:
        """A memory setting must read as one ("512m", "2g")."""
        try:
            memory_bytes(value)
        except PydanticCustomError as error:
            raise ValueError(str(error)) from None
        return value

    @field_validator("step_capabilities")
    @classmethod
    def _capability_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Capability names as Docker takes them: upper case, without `CAP_`."""
        names = tuple(name.upper().removeprefix("CAP_") for name in value)
        for name in names:
            if not name.replace("_", "").isalnum():
                raise ValueError(f"{name!r} is not a capability name")
        return names

    @property
    def environments_path(self) -> Path:
        """Where the environments file is (it need not exist)."""
        return self.environments_file or self.home / "environments.yml"

    @property
    def work_dir(self) -> Path:
        """Where runners keep each run's workspace."""
        return self.home / "work"

    def whoami(self) -> str:
        """The actor recorded for what this process does on a person's behalf."""
        return self.actor or f"{getpass.getuser()}@{socket.gethostname()}"

    @property
    def key_dir(self) -> Path:
        """Directory holding the ledger's ed25519 signing key."""
        return self.home / "keys"

    @property
    def keyring_path(self) -> Path:
        """The keyring file that encrypts secrets at rest."""
        return self.secrets_keyring or self.key_dir / "secrets.keyring"


def settings_file() -> Path | None:
    """The file SHIPLOG_ENV_FILE names (None when unset); ConfigError if it is not a file."""
    value = os.environ.get(ENV_FILE_VARIABLE, "")
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{ENV_FILE_VARIABLE} names {value!r}, which is not a readable file")
    return path


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once: the environment, then SHIPLOG_ENV_FILE's file."""
    return Settings(_env_file=settings_file())
