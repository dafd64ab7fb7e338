"""The live drawing program: a Starlette server (``server``) over a recogniser that holds the model
(``recognizer``), and one static page (``static/``: index.html, app.js, style.css; no build step).

    from chainrule.app import create_app
    app = create_app(model_path=None)          # the bundled digit model
    # uvicorn.run(app, host="127.0.0.1", port=8000)

``chainrule draw`` starts it and opens the page."""

from .server import create_app

__all__ = ["create_app"]
