"""Turns a model bundle into HTTP (Flask app + gunicorn). Never imports train/."""
