"""Ray's listening sockets on the one address asked for (issue 15 item 2; threat model §7).

Ray 2.60 advertises ``--node-ip-address`` but its GCS, raylet, core workers and agents
listen on every interface (``0.0.0.0`` / ``::``), and it has no setting to narrow them.
A Ray node started by ``proverpool head`` / ``join`` on a real address therefore runs
with a tiny ``LD_PRELOAD`` library (:data:`SHIM_SOURCE`, built once with the system's C
compiler and cached under ``~/.cache/proverpool``): its ``bind()`` turns a wildcard
address into :data:`BIND_ENV` (the node's address; an IPv6 wildcard into that address
IPv4-mapped), and leaves every other bind alone.  Every process of the node inherits it
(the raylet's workers too); ``proverpool head`` re-executes itself with it preloaded
(:func:`preload_self`), for the core worker of its own Ray driver.  Without a C compiler
the node still starts, listening on every interface as before, and
:func:`bind_environment` says so in its second value.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BIND_ENV = "PP_RAY_BIND_ADDRESS"
"""The address the shim binds wildcard sockets to (not ``PROVERPOOL_*``: Ray keeps it)."""
DRIVER_ENV = "PP_RAY_DRIVER_BIND"
"""Set in a process re-executed by :func:`preload_self`: the address its own Ray driver
binds to (``workers.cluster.runtime.ensure_ray`` sets :data:`BIND_ENV` to it while it
connects, so the process's other sockets, e.g. the API on a wildcard, stay as asked)."""

SHIM_SOURCE = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    static bind_fn real_bind = 0;
    if (!real_bind) real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    const char *want = getenv("PP_RAY_BIND_ADDRESS");
    if (want && *want && addr) {
        struct in_addr v4;
        int is_v4 = inet_pton(AF_INET, want, &v4) == 1;
        if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
            struct sockaddr_in a;
            memcpy(&a, addr, sizeof a);
            if (a.sin_addr.s_addr == htonl(INADDR_ANY) && is_v4) {
                a.sin_addr = v4;
                return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
            }
        } else if (addr->sa_family == AF_INET6 &&
                   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
            struct sockaddr_in6 a;
            memcpy(&a, addr, sizeof a);
            if (IN6_IS_ADDR_UNSPECIFIED(&a.sin6_addr)) {
                if (is_v4) {
                    memset(&a.sin6_addr, 0, sizeof a.sin6_addr);
                    a.sin6_addr.s6_addr[10] = 0xff;
                    a.sin6_addr.s6_addr[11] = 0xff;
                    memcpy(&a.sin6_addr.s6_addr[12], &v4, 4);
                } else if (inet_pton(AF_INET6, want, &a.sin6_addr) != 1) {
                    return real_bind(fd, addr, len);
                }
                return real_bind(fd, (const struct sockaddr *)&a, sizeof a);
            }
        }
    }
    return real_bind(fd, addr, len);
}
"""
CC_FLAGS = ("-shared", "-fPIC", "-O2", "-x", "c")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "proverpool" / "ray_bind"


def build_shim() -> Path | None:
    """The shim's shared library (built now if not cached), or ``None`` without a C
    compiler or when the build fails."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        return None
    digest = hashlib.sha256((SHIM_SOURCE + " ".join(CC_FLAGS)).encode()).hexdigest()[:16]
    target = _cache_dir() / f"bind-{digest}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        built = Path(tmp) / target.name
        done = subprocess.run(
            [compiler, *CC_FLAGS, "-o", str(built), "-", "-ldl"],
            input=SHIM_SOURCE,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0 or not built.exists():
            return None
        os.replace(built, target)  # atomic: concurrent builders agree
    return target


def bind_environment(address: str) -> tuple[dict[str, str], str | None]:
    """Environment variables that make a Ray node bind only to ``address`` (an IP), and a
    warning when that is impossible here (``None`` if all is well).  Loopback needs none:
    :func:`workers.cluster.runtime.use_loopback_only` keeps such a Ray on loopback."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback or ip.is_unspecified:
        return {}, None
    shim = build_shim()
    if shim is None:
        return {}, (
            "no C compiler to build the bind shim (install gcc): Ray listens on every "
            f"interface, not only {address}"
        )
    preload = " ".join(p for p in (str(shim), os.environ.get("LD_PRELOAD", "")) if p)
    return {"LD_PRELOAD": preload, BIND_ENV: address}, None


def preload_self(address: str) -> None:
    """Re-execute this process (same interpreter and arguments) with the shim preloaded
    and :data:`DRIVER_ENV` set to ``address``, once; nothing for loopback or without the
    shim.  Call it before anything that must not happen twice."""
    if os.environ.get(DRIVER_ENV) == address:
        return
    env, _ = bind_environment(address)
    if not env:
        return
    os.environ.update(LD_PRELOAD=env["LD_PRELOAD"], **{DRIVER_ENV: address})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
