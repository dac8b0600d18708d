"""Triggers over HTTP: one framework-free core (`core.WebhookCore`), its endpoints (one
module per system's way of asking), and the adapters that serve it (ASGI under uvicorn,
AWS Lambda, Google Cloud Functions). Nothing here imports an SDK, SQLAlchemy or numpy
when it loads: a serverless instance pays for them on the first request that needs them.
"""
