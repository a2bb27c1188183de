"""Service settings: where data lives and the limits it enforces, from `SIPANTAU_*` variables."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.1, 10.1.0.0/16` as networks; ValueError names an entry that is not one."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return tuple(ipaddress.ip_network(p, strict=False) for p in parts)


def driver_url(url: str) -> str:
    """A plain `postgresql://` (or `postgres://`) URL, as PostgreSQL's tools and hosting
    providers write it, on the psycopg 3 driver we install; any other URL as given."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


class ServiceSettings(BaseSettings):
    """Everything the API and the workers need to agree on; validated once at start."""

    model_config = SettingsConfigDict(env_prefix="SIPANTAU_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    token_ttl_s: int = Field(12 * 3600, ge=60)
    max_upload_bytes: int = Field(15_000_000, ge=1000)
    job_lease_s: float = Field(120.0, gt=0)  # a job whose worker vanished is retried after this
    job_max_attempts: int = Field(3, ge=1)
    claim_ttl_s: int = Field(600, ge=10)  # a reviewer's hold on a form
    login_window_s: int = 900
    login_max_failures_user: int = 5
    login_max_failures_ip: int = 20
    # Addresses (or networks) of reverse proxies whose X-Forwarded-For is believed; default
    # none: a client's own header never picks the address its login attempts are counted on.
    trusted_proxies: str = ""
    # Shared with the posko's screens (`serve` makes one when unset): a request carrying it may
    # say which browser address it acts for (X-Sipantau-Client-Address).
    ui_secret: SecretStr | None = None
    phash_max_distance: int = Field(6, ge=0, le=32)
    worker_poll_s: float = Field(0.25, gt=0)
    worker_hold_s: float = Field(0.0, ge=0)  # fault injection: pause after claiming a job
    # a photo in which no form is found is called blurred below this (ocr/blur.py)
    photo_min_sharpness: float = Field(0.3, ge=0)
    # Reading jobs: "db" polls the database (one machine, no broker); "celery" sends each job
    # through a broker to workers on any number of machines. The database stays the record.
    job_backend: Literal["db", "celery"] = "db"
    broker_url: str = "redis://127.0.0.1:6379/0"
    # celery: a queued job whose message may be lost (broker restarted, publish failed) is
    # published again after this; every worker's sweeper looks every job_sweep_s.
    job_republish_s: float = Field(30.0, gt=0)
    job_sweep_s: float = Field(5.0, gt=0)
    # Photos: a local folder, or an S3-compatible object store shared by many machines.
    photo_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str = "sipantau"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("database_url")
    @classmethod
    def _psycopg(cls, url: str | None) -> str | None:
        return driver_url(url) if url else url

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        proxy_networks(value)  # a typo here must stop the service, not trust nobody silently
        return value

    @property
    def proxy_networks(self) -> tuple[IPNetwork, ...]:
        return proxy_networks(self.trusted_proxies)

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sipantau.db').resolve()}"

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def derived_dir(self) -> Path:
        return self.data_dir / "derived"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"
