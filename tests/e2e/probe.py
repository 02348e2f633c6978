"""One row of the reachability matrix: from wherever this runs, try a TCP connection to each target
and one DNS query, each bounded by a timeout, and print what happened as JSON.

Standard library only: it runs inside a probe pod (piped to `python3 -` through `kubectl exec`)
and on the node itself (imported by the tests), so both rows are measured the same way.

    python3 - TIMEOUT DNS_SERVER DNS_NAME NAME=IP:PORT ...
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import sys
from concurrent.futures import ThreadPoolExecutor

OPEN, REFUSED, TIMEOUT = "open", "refused", "timeout"


def connect(address: tuple[str, int], timeout: float) -> str:
    """`open` if a TCP connection is established; `refused` or `timeout` if not."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return OPEN
    except ConnectionRefusedError:
        return REFUSED
    except TimeoutError:
        return TIMEOUT
    except OSError as error:  # unreachable host or network: the packet was refused on the way
        return f"{REFUSED} ({error.strerror})"


def resolve(server: str, name: str, timeout: float) -> str:
    """One A query over UDP straight to `server`, bypassing the resolver's search list and
    retries: `open` when it answers with an address, else what happened."""
    query_id = secrets.randbelow(1 << 16)
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # recursion desired, 1 question
    question = b"".join(bytes([len(part)]) + part.encode() for part in name.strip(".").split("."))
    packet = header + question + b"\0" + struct.pack("!HH", 1, 1)  # type A, class IN
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.sendto(packet, (server, 53))
            reply = sock.recv(4096)
        except TimeoutError:
            return TIMEOUT
        except OSError as error:
            return f"{REFUSED} ({error.strerror})"
    reply_id, flags, _, answers = struct.unpack("!HHHH", reply[:8])
    if reply_id != query_id:
        return "wrong reply"
    if flags & 0xF:
        return f"rcode {flags & 0xF}"
    return OPEN if answers else "no answer"


def probe(
    targets: dict[str, tuple[str, int]], dns_server: str, dns_name: str, timeout: float
) -> dict[str, str]:
    """Every target and the DNS query at once: the row takes one timeout, not one per target."""
    with ThreadPoolExecutor(max_workers=len(targets) + 1) as pool:
        futures = {name: pool.submit(connect, addr, timeout) for name, addr in targets.items()}
        dns = pool.submit(resolve, dns_server, dns_name, timeout)
        row = {name: future.result() for name, future in futures.items()}
        row["dns"] = dns.result()
    return row


def main(argv: list[str]) -> None:
    timeout, dns_server, dns_name, *pairs = argv
    targets = {}
    for pair in pairs:
        name, address = pair.split("=", 1)
        host, port = address.rsplit(":", 1)
        targets[name] = (host, int(port))
    print(json.dumps(probe(targets, dns_server, dns_name, float(timeout))))


if __name__ == "__main__":
    main(sys.argv[1:])
