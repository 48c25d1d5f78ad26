"""The web dashboards served at `/`: pages and static files (routes.py, docs/dashboards.md)."""
