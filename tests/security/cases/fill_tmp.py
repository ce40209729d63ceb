# Filling /tmp stops at its size with "no space left", and the host's disk
# is not touched.
# status: ok
# args: --tmp 8M --file-size 64M
# stdout-has: FULL errno=28
import errno

written = 0
try:
    with open("/tmp/fill", "wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
            written += 65536
except OSError as e:
    print("FULL errno=%d after %d bytes" % (e.errno, written))
