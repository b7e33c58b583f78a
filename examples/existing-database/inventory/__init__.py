"""An inventory application whose database predates its migrations."""
