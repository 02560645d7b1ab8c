"""Where this checkout is: for what only a checkout has (docs/, .test-home/, test artifacts).

What shiplog ships (migrations, templates, examples) is found through app.resources instead,
as an installed shiplog finds it.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
