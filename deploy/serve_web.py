"""The web app's entry point in the container image: Reflex's production backend serving, on one
port, the front end that was built into the image (`reflex export --frontend-only --no-zip` in the
Dockerfile), without compiling or building anything at start, so a Cloud Run instance is ready in
seconds.  (`reflex run --env prod --single-port`, the laptop path, rebuilds the front end each start.)

    python deploy/serve_web.py        # 0.0.0.0:$PORT (default 8080)

Schema migrations are not run here when MIGRATE_ON_START=false: the deployment runs
`python -m backend.admin migrate` as a job before it moves traffic.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from reflex import constants
    from reflex.config import get_config
    from reflex.environment import environment
    from reflex.utils import exec as reflex_exec

    built = ROOT / ".web" / constants.Dirs.STATIC
    if not (built / "index.html").is_file():
        raise SystemExit(f"no built front end in {built}: run `reflex export --frontend-only --no-zip` first")
    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    environment.REFLEX_SKIP_COMPILE.set(True)  # compiled and built at image build time
    port = int(os.environ.get("PORT", "8080"))
    reflex_exec.run_backend_prod(
        "0.0.0.0", port, get_config().loglevel.subprocess_level(), mount_frontend_compiled_app=True
    )


if __name__ == "__main__":
    main()
