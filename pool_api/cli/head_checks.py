"""What ``proverpool head`` checks before it starts anything (issue 17 item 6).

Its HTTP port and its Ray head's GCS port must be free: a busy one is refused (exit 4)
before the invite is made and before Ray starts, so the printed join command never
pairs this pool's invite with another pool's URL.  A loopback ``--host`` gets a warning:
only this machine can join.
"""

from __future__ import annotations

import socket

import typer

from pool_api.cli import exit_codes
from pool_api.errors import JoinError


def port_taken(host: str, port: int) -> OSError | None:
    """Why ``host:port`` cannot be listened on now (``None``: it can), probed the way
    uvicorn binds (``SO_REUSEADDR``: a port in TIME_WAIT counts as free)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return exc
    return None


def check_ports(host: str, port: int, ray_port: int | None) -> None:
    """Refuse (exit 4) before anything starts when the API's or the Ray head's port is
    taken; ``ray_port`` None: no Ray head of ours (``PROVERPOOL_RAY_ADDRESS``).  Ray's GCS
    is probed on every address, since it listens on all of them."""
    busy = port_taken(host, port)
    if busy is not None:
        raise JoinError(
            f"cannot listen on {host}:{port} ({busy.strerror or busy}): another pool or "
            "program has it; pick another port with --port",
            exit_codes.REFUSED,
        )
    if ray_port is not None and ray_port != port:
        busy = port_taken("::" if socket.has_ipv6 and ":" in host else "0.0.0.0", ray_port)
        if busy is not None:
            raise JoinError(
                f"the Ray port {ray_port} is taken ({busy.strerror or busy}): another "
                "pool's Ray? pick another with --ray-port N (or PROVERPOOL_RAY_PORT)",
                exit_codes.REFUSED,
            )


def warn_if_loopback(host: str, port: int, ray_port: int) -> None:
    from pool_api.membership import is_loopback

    if is_loopback(host):
        typer.secho(
            f"warning: --host {host} is loopback: only this machine can join. For "
            f"contributors elsewhere use --host 0.0.0.0 and open ports {port} (HTTP) and "
            f"{ray_port} (Ray) to them.",
            fg=typer.colors.YELLOW,
            err=True,
        )
