#!/usr/bin/env python3
"""Which B-trees a SQLite commit of new tickets dirties: a model of the daemon's group commit.

Builds a database from migrations/sqlite (as the daemon would), stores a history of new
customers' tickets, then commits groups of new tickets spread over ten departments and channels
the way the load generator's new-ticket scenario sends them (one contact, ticket, timeline entry
and message each; phones numbered per department) and reads back the WAL: every frame names
the page it holds, and `dbstat` names the B-tree of each page. Each frame costs the writer two
`pwrite`s and its share of the WAL's fsync and checkpoint.

    pip install apsw==3.50.2.0     # the SQLite that libsqlite3-sys bundles
    benches/wal_frames.py [--history 100000] [--group 14] [--try "SQL; ..."]

`--try` runs SQL after the migrations, to weigh an index before writing its migration. The
statements are the model's, not the daemon's: it counts pages, not time.
"""
import argparse
import collections
import glob
import os
import struct
import tempfile
import uuid

import apsw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--history", type=int, default=100_000, help="tickets stored before")
    args.add_argument("--group", type=int, default=14, help="new tickets per commit")
    args.add_argument("--commits", type=int, default=200)
    args.add_argument("--try", dest="extra", default="", help="SQL to run after the migrations")
    args = args.parse_args()
    path = os.path.join(tempfile.mkdtemp(), "model.sqlite3")
    c = apsw.Connection(path)
    for migration in sorted(glob.glob(os.path.join(ROOT, "migrations/sqlite/*/up.sql"))):
        c.execute(open(migration).read())
    if args.extra:
        c.execute(args.extra)
    for pragma in ("journal_mode=WAL", "wal_autocheckpoint=0", "foreign_keys=ON"):
        list(c.execute(f"PRAGMA {pragma}"))
    for d in range(10):
        c.execute(
            "INSERT INTO departments (id, name, timezone, business_hours, holidays,"
            " required_fields, created_at) VALUES (?, ?, 'UTC', '{}', '[]', '[]', '2026-01-01')",
            (f"dep{d}", f"D{d}"),
        )
        c.execute(
            "INSERT INTO channels (id, name, kind, department_id, settings, created_at)"
            " VALUES (?, ?, 'api', ?, '{}', '2026-01-01')",
            (f"chan{d}", f"C{d}", f"dep{d}"),
        )
    ids = UuidV7()
    c.execute("BEGIN")
    store_new_tickets(c, ids, 0, args.history)
    c.execute("COMMIT")
    list(c.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
    frames = collections.Counter()
    wal = path + "-wal"
    n = args.history
    for _ in range(args.commits):
        before = os.path.getsize(wal)
        c.execute("BEGIN")
        store_new_tickets(c, ids, n, args.group)
        c.execute("COMMIT")
        n += args.group
        with open(wal, "rb") as f:
            f.seek(max(before, 32))  # past the WAL header
            written = f.read()
        for at in range(0, len(written), 24 + 4096):  # frame header, then the page
            frames[struct.unpack(">I", written[at : at + 4])[0]] += 1
    # Named at the end: pages that splits added during the run belong to their B-tree by then.
    btree = dict((page, name) for name, page in c.execute("SELECT name, pageno FROM dbstat"))
    by_btree = collections.Counter()
    for page, count in frames.items():
        by_btree[btree.get(page, "(freed)")] += count
    total = sum(frames.values())
    print(
        f"{total / args.commits:.1f} WAL frames per commit of {args.group} new tickets"
        f" ({total / args.commits / args.group:.2f} per ticket)"
    )
    for name, count in by_btree.most_common():
        print(f"{count / args.commits:7.2f}  {name}")


class UuidV7:
    """Time-ordered ids, as the daemon makes them: later rows sort after earlier ones."""

    def __init__(self):
        self.seq = 0

    def __call__(self):
        self.seq += 1
        millis = 1_700_000_000_000 + self.seq
        return str(uuid.UUID(int=(millis << 80) | (0x7 << 76) | self.seq))


def store_new_tickets(c, ids, first, count):
    for i in range(first, first + count):
        d = i % 10  # REST spreads consecutive messages over the departments
        at = f"2026-12-07 10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.{i % 1000:03d}000"
        phone = f"+3{d:04}{i:08}"
        contact, ticket = ids(), ids()
        c.execute(
            "INSERT INTO contacts (id, phone, name, name_edited, created_at, updated_at)"
            " VALUES (?, ?, ?, 0, ?, ?)",
            (contact, phone, phone, at, at),
        )
        c.execute(
            "INSERT INTO tickets (id, number, state, contact_id, channel_id, department_id,"
            " created_at, updated_at, waiting_since, unanswered_since)"
            " VALUES (?, ?, 'waiting', ?, ?, ?, ?, ?, ?, ?)",
            (ticket, i + 1, contact, f"chan{d}", f"dep{d}", at, at, at, at),
        )
        c.execute(
            "INSERT INTO ticket_events (id, ticket_id, state, department_id, reason, at)"
            " VALUES (?, ?, 'waiting', ?, 'opened', ?)",
            (ids(), ticket, f"dep{d}", at),
        )
        c.execute(
            "INSERT INTO messages (id, ticket_id, channel_id, direction, author_kind,"
            " author_name, kind, body, status, created_at)"
            " VALUES (?, ?, ?, 'in', 'contact', ?, 'text', ?, 'received', ?)",
            (ids(), ticket, f"chan{d}", phone, f"lg:{i}", at),
        )


if __name__ == "__main__":
    main()
