"""Dash pages: Dash imports each module here itself (see dashboard.app.create_app)."""
