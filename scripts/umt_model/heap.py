"""A steady heap for the trainers: PyTorch on CPU allocates and frees big tensors of ever-different
shapes every step.

glibc either fragments (a translator run grew to 10 GB resident) or, with a low mmap threshold,
hands every big tensor fresh pages: half of an AMT step went to page faults. jemalloc told never to
purge reuses its pages (1.3 s instead of 2.8 s per step; ~2 GB resident). Debian: libjemalloc2.
"""
import ctypes
import ctypes.util
import os
import sys

NO_PURGE = "dirty_decay_ms:-1,muzzy_decay_ms:-1"


def steady_heap():
    """Re-runs this process with jemalloc preloaded when it is installed and not loaded yet (call it
    first in main: the arguments and environment carry over); otherwise bounds glibc's heap."""
    if "jemalloc" in os.environ.get("LD_PRELOAD", ""):
        return
    lib = ctypes.util.find_library("jemalloc")
    if lib:
        preload = " ".join(p for p in (os.environ.get("LD_PRELOAD", ""), lib) if p)
        env = dict(os.environ, LD_PRELOAD=preload, MALLOC_CONF=os.environ.get("MALLOC_CONF", NO_PURGE))
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    try:  # glibc: serve big blocks by mmap (returned on free): slower, but stays near 1 GB
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):
        pass
