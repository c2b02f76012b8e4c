"""slo_monitor package."""
