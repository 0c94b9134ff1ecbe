"""The central server's web console (Vietnamese) and REST API: `create_app` in app.py."""
