"""PostgreSQL connections: a restore thread holds none while it waits on Looker, and a qcluster
that could not get the connections it may need refuses to start.

On PostgreSQL every process has a psycopg pool of at most `LOOKERVAULT_DB_POOL_SIZE` connections
(`lookervault_web.settings`). The Looker transport calls `release_idle()` before every request, so
a worker process' 8 restore workers and 32 fan-out threads share those few connections for the
milliseconds their SQL takes, instead of holding one each for the whole item (held that way, one busy process needed 42
connections, and three of them ran out of PostgreSQL's default 100).

What one qcluster (`manage.py qcluster`) may hold at most: `Q_WORKERS × pool size + 4` — each
worker process its pool, and one each for the `qcluster` process itself (kept open: it carries
the advertisement below), the sentinel (the scheduler), the monitor (task results) and the pusher
(the ORM broker's polling). Those four get a pool of at most one connection
(`one_connection_except_workers`): a pool of the workers' size opens two even in a process with
one thread — the pool opens its first connection in the background, the first query does not
wait for it and grows the pool by a second, which stays idle. Each cluster puts that figure in its
connections' `application_name` ("lookervault-qcluster <id> <budget>"), so a cluster starting on
another machine counts what the running ones may take. SQLite needs none of this.
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass
from typing import Any

APP_NAME_PREFIX = "lookervault-qcluster"
# Processes of a qcluster besides its workers that use the database, each with a pool of one.
CLUSTER_OVERHEAD = 4


@functools.cache
def pooled() -> bool:
    """Is the default database a pooled PostgreSQL one? (Decided once per process.)"""
    from django.conf import settings

    return bool(settings.DATABASES["default"].get("OPTIONS", {}).get("pool"))


def release_idle() -> None:
    """Give this thread's pooled connection back (outside a transaction): called before every
    Looker request, so no thread keeps a connection while it waits on the network."""
    if not pooled():
        return
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.in_atomic_block:
            conn.close()


def forget_inherited_pools() -> None:
    """In a forked child (django-q2 forks its workers): never use the parent's pool — its idle
    connections' sockets are shared with the parent, its maintenance threads did not survive the
    fork. The objects are kept, not closed: closing would end the parent's sessions too."""
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except Exception:  # noqa: BLE001 - no PostgreSQL driver: nothing to forget
        return
    pools = DatabaseWrapper._connection_pools
    if pools:
        _inherited.extend(pools.values())
        pools.clear()


_inherited: list[Any] = []


def pool_size() -> int:
    """A worker process' pool: at most LOOKERVAULT_DB_POOL_SIZE connections."""
    if _worker_pool_size is not None:
        return _worker_pool_size
    return int(_pool_options().get("max_size", 0))


def _pool_options() -> dict[str, Any]:
    from django.conf import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool") or {}
    return pool if isinstance(pool, dict) else {}


def _limit_pool(size: int) -> None:
    """The size of this process' next pool (pools are made at their first connection)."""
    pool = _pool_options()
    if pool:
        pool["max_size"] = size
        pool["min_size"] = min(int(pool.get("min_size", 1)), size)


_worker_pool_size: int | None = None


def one_connection_except_workers() -> None:
    """From now on this process and the processes it forks make a pool of one connection, except
    django-q2's workers (its `post_spawn` signal, sent in a worker before its first task), which
    get LOOKERVAULT_DB_POOL_SIZE. Call in the `qcluster` process before its pool opens."""
    global _worker_pool_size
    from django_q.signals import post_spawn

    _worker_pool_size = pool_size()
    _limit_pool(1)
    post_spawn.connect(_full_pool_in_worker, dispatch_uid="lookervault-worker-pool")


def _full_pool_in_worker(sender: Any, **kwargs: Any) -> None:
    if _worker_pool_size is not None:
        _limit_pool(_worker_pool_size)


def cluster_budget(q_workers: int, size: int) -> int:
    return q_workers * size + CLUSTER_OVERHEAD


def other_clients() -> int:
    """Connections to keep free for everything that is not a qcluster: web server processes,
    management commands, psql (LOOKERVAULT_DB_OTHER_CLIENTS, default 10)."""
    from django.conf import settings

    return settings.LOOKERVAULT_DB_OTHER_CLIENTS


@dataclass
class Fit:
    """The arithmetic of one cluster against what PostgreSQL allows."""

    q_workers: int
    pool_size: int
    need: int
    limit: int
    limit_says: str
    other_clusters: int
    clusters_seen: int
    other_clients: int

    @property
    def left(self) -> int:
        return self.limit - self.other_clusters - self.other_clients

    @property
    def fits(self) -> bool:
        return self.need <= self.left

    def explain(self) -> str:
        return (
            f"a qcluster with Q_WORKERS={self.q_workers} and LOOKERVAULT_DB_POOL_SIZE="
            f"{self.pool_size} may hold {self.need} PostgreSQL connections ({self.q_workers} × "
            f"{self.pool_size} + {CLUSTER_OVERHEAD}); {self.limit_says}, other LookerVault "
            f"clusters running ({self.clusters_seen}) may hold {self.other_clusters}, other "
            f"clients {self.other_clients} (LOOKERVAULT_DB_OTHER_CLIENTS): {self.left} left"
        )


def measure_fit(connection: Any, q_workers: int, *, own_id: str = "") -> Fit:
    """Read PostgreSQL's limits and the other clusters' budgets through `connection`."""
    size = pool_size()
    with connection.cursor() as cur:
        cur.execute(
            "select current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int,"
            " coalesce(current_setting('reserved_connections', true), '0')::int,"
            " (select datconnlimit from pg_database where datname = current_database()),"
            " (select rolconnlimit from pg_roles where rolname = current_user)"
        )
        max_conn, su_reserved, reserved, db_limit, role_limit = cur.fetchone()
        cur.execute(
            "select application_name from pg_stat_activity where application_name like %s",
            [APP_NAME_PREFIX + " %"],
        )
        names = [row[0] for row in cur.fetchall()]
    server = max_conn - su_reserved - reserved
    limits = [(server, f"PostgreSQL allows {server} (max_connections {max_conn} − "
               f"{su_reserved + reserved} reserved)")]  # fmt: skip
    if db_limit is not None and db_limit >= 0:
        limits.append((db_limit, f"the database allows {db_limit} (its CONNECTION LIMIT)"))
    if role_limit is not None and role_limit >= 0:
        limits.append((role_limit, f"the role allows {role_limit} (its CONNECTION LIMIT)"))
    limit, says = min(limits)
    budgets: dict[str, int] = {}
    for name in names:
        parts = name.split()
        if len(parts) == 3 and parts[1] != own_id and parts[2].isdigit():
            budgets[parts[1]] = int(parts[2])
    return Fit(
        q_workers=q_workers,
        pool_size=size,
        need=cluster_budget(q_workers, size),
        limit=limit,
        limit_says=says,
        other_clusters=sum(budgets.values()),
        clusters_seen=len(budgets),
        other_clients=other_clients(),
    )


def advertise(q_workers: int) -> str:
    """Name this process' connections (and its children's) after this cluster and its budget.
    Before the pool opens: the name is part of every connection's parameters."""
    from django.conf import settings

    cluster_id = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
    options = settings.DATABASES["default"].setdefault("OPTIONS", {})
    options["application_name"] = (
        f"{APP_NAME_PREFIX} {cluster_id} {cluster_budget(q_workers, pool_size())}"
    )
    return cluster_id


def close_pool() -> None:
    """Close this process' pool before forking workers (they open their own)."""
    from django.db import connections

    connections.close_all()
    conn = connections["default"]
    if getattr(conn, "pool", None):
        conn.close_pool()
