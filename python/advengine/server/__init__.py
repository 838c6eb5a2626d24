"""``advengine serve``: a whole competition hosted over HTTP (docs/server.md).

Teams upload code submissions (or, in test rounds, images and labels); the server validates them with
the existing validator, evaluates only the new work through the existing engine (one incremental run
directory per round), and publishes the engine's own scores as a live leaderboard. State lives in a
SQL database (SQLite by default, PostgreSQL for deployments); evaluation runs in worker processes or
on a Ray cluster, so the server process stays small.

```python
from advengine.server import ServerSettings, create_app
app = create_app(ServerSettings(config=load_config(None), state=Path("advengine-state")))
```
"""

from advengine.server.app import create_app, open_server
from advengine.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "open_server"]
