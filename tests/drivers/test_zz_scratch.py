from tests.servers_mariadb import use_mariadb
from app.Queue.contracts import PushItem
from app.Queue.support.time import now

def test_explain(mariadb_server, mariadb_database, monkeypatch, queue_env):
    use_mariadb(mariadb_server, mariadb_database, monkeypatch)
    qm = queue_env
    d = qm.connection("database")
    d.bulk([PushItem('"x"', "default", delay=(60 if i % 3 == 0 else 0), priority=i % 2) for i in range(5000)])
    t = int(now())
    with qm.engine().begin() as c:
        c.exec_driver_sql(f"UPDATE jobs SET reserved_at={t}, reserved_by='w' WHERE MOD(id, 10) <> 0")
    with qm.engine().connect() as c:
        c.exec_driver_sql("ANALYZE TABLE jobs")
        q = f"SELECT id, payload, attempts FROM jobs WHERE queue='default' AND ((reserved_at IS NULL AND available_at <= {t}) OR reserved_at <= {t-30}) ORDER BY priority DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED"
        print(c.exec_driver_sql("EXPLAIN " + q).all())
