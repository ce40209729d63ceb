# No host path reaches a run through /proc: the sandbox's pid 1 (a copy of
# the process that started the run) shows a neutral command line, and the
# dataset folder's mount does not name its host path in mountinfo.
# status: ok
# args: --data {{DEMO}}
# stdout-has: HOST PATHS SEEN 0
# stdout-lacks: {{DEMO}}
import os

# The dataset, the test's scratch folder, and the build folder beside the
# dataset, where the ledgerbox binary that started the run lives.
# (A folder as short as /tmp would match the sandbox's own mounts.)
host_paths = [p for p in ["{{DEMO}}", os.path.dirname("{{SECRET_FILE}}"),
                          os.path.dirname("{{DEMO}}")] if len(p) > 8]
names = ["cmdline", "environ", "comm", "mountinfo", "mounts", "mountstats", "maps"]
seen = []
pids = [p for p in os.listdir("/proc") if p.isdigit()] + ["self", "thread-self"]
for pid in pids:
    for name in names:
        try:
            with open("/proc/%s/%s" % (pid, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            continue
        if any(h in text for h in host_paths):
            seen.append("%s/%s" % (pid, name))
    for link in ["exe", "cwd", "root"]:
        try:
            target = os.readlink("/proc/%s/%s" % (pid, link))
        except OSError:
            continue
        if any(h in target for h in host_paths):
            seen.append("%s/%s" % (pid, link))
assert os.listdir("/data"), "the dataset is mounted"
with open("/proc/1/cmdline", "rb") as f:
    print("pid 1:", f.read().rstrip(b"\0").decode())
print("seen in:", seen)
print("HOST PATHS SEEN %d" % len(seen))
