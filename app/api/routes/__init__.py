"""HTTP route modules; each exposes one APIRouter named `router`."""
