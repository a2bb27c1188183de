"""What every request and job needs: settings, database sessions and the photo store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from sipantau.api.db import session_factory
from sipantau.api.settings import ServiceSettings
from sipantau.api.storage import LocalPhotoStore


@dataclass
class Context:
    settings: ServiceSettings
    sessions: sessionmaker[Session]
    store: LocalPhotoStore

    @classmethod
    def create(cls, settings: ServiceSettings) -> Context:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        return cls(settings, session_factory(settings.db_url), LocalPhotoStore(settings.photo_dir))
