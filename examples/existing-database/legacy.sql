-- The inventory's schema as it was created by hand, years before it had migrations,
-- and a few rows that must survive adoption.

CREATE TABLE suppliers (
    id INTEGER NOT NULL,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200),
    PRIMARY KEY (id),
    UNIQUE (name)
);

CREATE TABLE products (
    id INTEGER NOT NULL,
    sku VARCHAR(32) NOT NULL,
    title VARCHAR(200) NOT NULL,
    supplier_id INTEGER NOT NULL,
    price_cents INTEGER NOT NULL,
    PRIMARY KEY (id),
    FOREIGN KEY (supplier_id) REFERENCES suppliers (id)
);

CREATE UNIQUE INDEX ix_products_sku ON products (sku);

INSERT INTO suppliers (id, name, email) VALUES
    (1, 'Acme Tools', 'orders@acme.example'),
    (2, 'Bolt & Nut Co', NULL);

INSERT INTO products (id, sku, title, supplier_id, price_cents) VALUES
    (1, 'HAM-001', 'Claw hammer', 1, 1599),
    (2, 'SCR-010', 'Wood screws, box of 100', 2, 499),
    (3, 'SAW-200', 'Hand saw', 1, 2450);
