"""Small application modules that the compat tests' worker processes import (celery, rq)."""
