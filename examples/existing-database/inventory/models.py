"""The inventory's models: they describe the tables legacy.sql created by hand."""

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(200))


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(sa.String(32), unique=True, index=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    supplier_id: Mapped[int] = mapped_column(sa.ForeignKey("suppliers.id"))
    price_cents: Mapped[int]
