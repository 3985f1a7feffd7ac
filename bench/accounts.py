"""The bench accounts, shared by the seeder and the load generator (which must not import the app)."""

EMAIL_DOMAIN = "bench.example"
EMAIL_LIKE = f"bench%@{EMAIL_DOMAIN}"
# Not a secret: bench accounts exist only in scratch databases; load.py signs in with it.
BENCH_PASSWORD = "bench-password-0000"  # noqa: S105


def bench_email(n: int) -> str:
    return f"bench{n:04d}@{EMAIL_DOMAIN}"
