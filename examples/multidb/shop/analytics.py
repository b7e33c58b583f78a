"""A separate analytics database, with its own declarative base."""

import datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class AnalyticsBase(DeclarativeBase):
    pass


class PageView(AnalyticsBase):
    __tablename__ = "page_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(sa.String(500))
    seen_at: Mapped[datetime.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())
