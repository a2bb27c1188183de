"""What every request and job needs: settings, database sessions and the photo store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sipantau.api.db import session_factory
from sipantau.api.settings import ServiceSettings
from sipantau.api.storage import LocalPhotoStore, PhotoStore


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
            LocalPhotoStore(settings.photo_dir),
        )
