# What an analyst's program ordinarily does works in the sandbox: every CSV
# of the dataset into pandas, a monthly roll-up, charts saved to /out, a
# multiprocessing Pool, threads, tempfile, zoneinfo and the local zone
# (/etc/localtime, missing before), locale, sqlite3 on the dataset's file
# and on a scratch file, a subprocess and asyncio. Nothing fails with
# ENOSYS or EPERM.
# status: ok
# args: --data {{DEMO}}
# stdout-has: ANALYST PROBLEMS []
import asyncio
import datetime
import glob
import locale
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zoneinfo
from concurrent.futures import ThreadPoolExecutor

import matplotlib.pyplot as plt
import pandas as pd

problems = []
frames = {}


def square(x):
    return x * x


def check(name, fn):
    try:
        fn()
        print("OK", name)
    except Exception as e:
        problems.append(name)
        print("FAIL", name, type(e).__name__, e)


def read_dataset():
    for path in glob.glob("/data/*.csv"):
        frames[os.path.basename(path)] = pd.read_csv(path)
    gl = frames["gl_entries.csv"]
    gl["entry_date"] = pd.to_datetime(gl["entry_date"])
    monthly = gl.groupby(gl["entry_date"].dt.to_period("M"))[["debit", "credit"]].sum()
    monthly.to_csv("/out/monthly.csv")


def chart():
    fig, ax = plt.subplots()
    frames["invoices.csv"].groupby("status")["amount"].sum().plot.bar(ax=ax)
    fig.savefig("/out/chart.png")
    fig.savefig("/out/chart.svg")
    plt.close(fig)


def pool():
    with multiprocessing.Pool(2) as p:
        assert p.map(square, range(10))[3] == 9
    with ThreadPoolExecutor(4) as ex:
        assert list(ex.map(square, range(20)))[7] == 49
    lock = multiprocessing.Lock()
    with lock:
        queue = multiprocessing.Queue()
        queue.put(1)
        assert queue.get(timeout=5) == 1


def scratch():
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "x"), "w") as f:
            f.write("x")
    event = threading.Event()
    threading.Timer(0.01, event.set).start()
    assert event.wait(5)


def zones():
    datetime.datetime.now(zoneinfo.ZoneInfo("America/New_York"))
    pd.date_range("2024-01-01", periods=3, tz="Asia/Tokyo")
    with open("/etc/localtime", "rb") as f:
        assert f.read(4) == b"TZif", "/etc/localtime is not a zone file"
    time.localtime()
    locale.setlocale(locale.LC_ALL, "")


def databases():
    ro = sqlite3.connect("file:/data/ledger.sqlite?mode=ro", uri=True)
    assert ro.execute("select count(*) from sqlite_master").fetchone()[0] > 0
    ro.close()
    db = sqlite3.connect("/tmp/scratch.db")
    frames["budgets.csv"].to_sql("budgets", db)
    assert len(pd.read_sql("select * from budgets limit 3", db)) == 3
    db.close()


def processes():
    out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, check=True)
    assert out.stdout == b"42\n"

    async def main():
        await asyncio.sleep(0.01)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        return await proc.wait()

    assert asyncio.run(main()) == 0


for name, fn in [("dataset", read_dataset), ("chart", chart), ("pool", pool),
                 ("scratch", scratch), ("zones", zones), ("databases", databases),
                 ("processes", processes)]:
    check(name, fn)
print("ANALYST PROBLEMS", problems)
