# Links in /out pointing at host or sandbox files are never followed when
# artifacts are read; a hard link across file systems fails.
# status: ok
# args: --data {{DEMO}}
# artifacts: real.csv
# stdout-has: hardlink BLOCKED
# stdout-lacks: root:
import os

os.symlink("/etc/passwd", "/out/passwd.txt")
os.symlink("{{SECRET_FILE}}", "/out/secret.txt")
os.symlink("/proc/self/environ", "/out/environ.txt")
try:
    os.link("/data/accounts.csv", "/out/hard.csv")
    print("hardlink MADE")
except OSError:
    print("hardlink BLOCKED")
os.mkdir("/out/folder")
with open("/out/real.csv", "w") as f:
    f.write("a,b\n1,2\n")
