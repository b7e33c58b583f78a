"""``migratectl lint``: the rules, the analysis of revision files, and the report formats."""
