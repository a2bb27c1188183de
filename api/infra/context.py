"""What every request and job needs: settings, database sessions and the photo store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sipantau.api.infra.db import session_factory
from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.infra.storage import LocalPhotoStore, PhotoStore


@dataclass
class Context:
    settings: ServiceSettings
    sessions: sessionmaker[Session]  # for work that writes
    reads: sessionmaker[Session]  # for work that only reads (never waits for a writer)
    store: PhotoStore

    @classmethod
    def create(cls, settings: ServiceSettings) -> Context:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.db_url
        return cls(
            settings,
            session_factory(url),
            session_factory(url, readonly=True),
            make_store(settings),
        )


def make_store(settings: ServiceSettings) -> PhotoStore:
    """The photo store the settings name: `local` (data_dir/photos) or `s3` (shared bucket)."""
    if settings.photo_store == "s3":
        from sipantau.api.infra.storage_s3 import S3PhotoStore  # boto3 only where it is used

        return S3PhotoStore(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
        )
    return LocalPhotoStore(settings.photo_dir, settings.derived_dir)
