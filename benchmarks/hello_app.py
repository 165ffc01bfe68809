"""A FastAPI hello-world: the framework's ceiling, served by ``hot_paths.py`` the
way the service is served (gunicorn, the service's uvicorn worker class)."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    """The least a route can do: answer a constant."""
    return {"hello": "world"}
