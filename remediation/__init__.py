"""remediation package."""
