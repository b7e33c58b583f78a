"""A tiny blog whose schema migratectl manages."""
