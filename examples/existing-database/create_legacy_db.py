"""Create inventory.db from legacy.sql: tables and rows, and no migration history at all."""

import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATABASE = HERE / "inventory.db"

if DATABASE.exists():
    sys.exit(f"{DATABASE.name} exists already; delete it to start again.")
connection = sqlite3.connect(DATABASE)
try:
    connection.executescript((HERE / "legacy.sql").read_text())
    products = connection.execute("SELECT count(*) FROM products").fetchone()[0]
finally:
    connection.close()
print(f"Created {DATABASE.name}: suppliers and products tables, {products} products.")
