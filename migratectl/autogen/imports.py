"""Import lines for the types a revision script takes from modules other than SQLAlchemy.

Alembic renders such a type as ``module.Class(...)`` — ``sqlmodel.sql.sqltypes.AutoString()``,
``geoalchemy2.types.Geometry(...)``, ``app.types.Money()`` — but writes the import only for
SQLAlchemy's own dialect modules, so the script fails with a NameError when it runs. The
``render_item`` hook here sees every type Alembic renders, nested ones included (an ARRAY's
item type, each variant of ``with_variant``), and adds ``import module`` for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alembic.autogenerate.api import AutogenContext

RenderItem = Callable[[str, Any, "AutogenContext"], Any]

# A class from these cannot be imported by a revision script: an import line would not help.
_NOT_IMPORTED = ("builtins", "__main__")


def render_item_with_imports(user_render_item: RenderItem | None) -> RenderItem:
    """A ``render_item`` that adds the import for each non-SQLAlchemy type rendered.

    The user's own ``render_item`` (``[configure]`` or env.py) is asked first: whatever it
    renders is left as it is — it owns that object's imports, as in Alembic's cookbook. When
    it returns False (Alembic's "render as usual"), so does this, after adding the import.
    """

    def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> Any:
        if user_render_item is not None:
            rendered = user_render_item(type_, obj, autogen_context)
            if rendered is not False:
                return rendered
        if type_ == "type":
            _add_import(obj, autogen_context)
        return False

    return render_item


def _add_import(type_: Any, autogen_context: AutogenContext) -> None:
    if autogen_context.opts.get("user_module_prefix") is not None:
        # Alembic then writes that prefix instead of the module: the user imports it.
        return
    module = type(type_).__module__
    if module == "sqlalchemy" or module.startswith("sqlalchemy.") or module in _NOT_IMPORTED:
        return
    imports = autogen_context.imports
    if imports is not None:
        imports.add(f"import {module}")
