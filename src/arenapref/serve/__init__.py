"""The HTTP service: ``create_app(judge)`` (FastAPI) and ``serve(run_dir)`` (uvicorn), with a web page.

Needs the ``serve`` extra (fastapi, uvicorn). See ``arenapref.serve.app`` for the endpoints.
"""
