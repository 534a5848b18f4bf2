"""Two (or more) ssh "hosts" on one machine, for trying and testing pytest-punie's scale-out: a
real OpenSSH ``sshd`` (Debian's openssh-server) on each loopback address given, key-only login
with a key made here, each host with its own folder. Nothing outside FOLDER is written except
``/run/sshd`` (sshd's privilege-separation folder, created when missing).

    python scripts/loopback_hosts.py start FOLDER 127.0.0.2 127.0.0.3   # prints each host's --tx spec
    python scripts/loopback_hosts.py tx FOLDER                           # --tx options for pytest
    python scripts/loopback_hosts.py kill FOLDER 127.0.0.3               # the host disappears
    python scripts/loopback_hosts.py stop FOLDER                         # every sshd and its sessions

``start`` writes FOLDER/key (the client key), FOLDER/ssh_config (port, key, the hosts' own keys
as known hosts: strict checking stays on) and, per host, FOLDER/ADDRESS/ (its project copy goes
there) and FOLDER/ADDRESS/cache (its model cache); ``kill`` ends that host's sshd and every
process of its sessions (the remote python included), as a machine that went away."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
PORT = 2222


def this_user() -> str:
    """The user running this: the one the hosts let in."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def sshd_config(folder: Path, address: str, port: int) -> str:
    """A key-only sshd for one loopback address, its state inside the folder."""
    me = folder / address
    return "\n".join(
        [
            f"ListenAddress {address}:{port}",
            f"HostKey {me / 'host_key'}",
            f"PidFile {me / 'sshd.pid'}",
            f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowUsers {this_user()}",
            "UsePAM no",
            "StrictModes no",
            "MaxStartups 20",
            "LogLevel INFO",
            "",
        ]
    )


def client_config(folder: Path, addresses: list[str], port: int) -> str:
    """What ``ssh -F`` needs to reach the hosts: the port, the key, the hosts' keys (checked)."""
    return "\n".join(
        [
            f"Host {' '.join(addresses)}",
            f"  Port {port}",
            f"  IdentityFile {folder / 'key'}",
            "  IdentitiesOnly yes",
            "  BatchMode yes",
            "  StrictHostKeyChecking yes",
            f"  UserKnownHostsFile {folder / 'known_hosts'}",
            "  ConnectTimeout 10",
            "  LogLevel ERROR",
            "",
        ]
    )


def keygen(path: Path) -> None:
    """An ed25519 key pair, no passphrase, unless already there."""
    if not path.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)


def start(folder: Path, addresses: list[str], port: int) -> int:
    """Start one sshd per address; print the --tx spec of each."""
    if not Path(SSHD).exists():
        print(f"{SSHD} is missing: install openssh-server (Debian: apt-get install openssh-server)", file=sys.stderr)
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    keygen(folder / "key")
    shutil.copy(folder / "key.pub", folder / "authorized_keys")
    known = []
    for address in addresses:
        me = folder / address
        (me / "cache").mkdir(parents=True, exist_ok=True)
        keygen(me / "host_key")
        (me / "sshd_config").write_text(sshd_config(folder, address, port))
        known.append(f"[{address}]:{port} {(me / 'host_key.pub').read_text().split(' ')[0]} "
                     f"{(me / 'host_key.pub').read_text().split(' ')[1]}")  # fmt: skip
        if running(me / "sshd.pid"):
            continue  # started before: kept
        done = subprocess.run(
            [SSHD, "-f", str(me / "sshd_config"), "-E", str(me / "sshd.log")], capture_output=True, text=True
        )
        if done.returncode != 0:
            print(f"sshd on {address}:{port} did not start: {done.stderr.strip()}", file=sys.stderr)
            return 1
    (folder / "known_hosts").write_text("\n".join(known) + "\n")
    (folder / "ssh_config").write_text(client_config(folder, addresses, port))
    for address in addresses:
        if not wait_for_login(folder, address):
            print(f"ssh to {address}:{port} does not log in: see {folder / address / 'sshd.log'}", file=sys.stderr)
            return 1
        print(tx_spec(folder, address))
    return 0


def tx_spec(folder: Path, address: str) -> str:
    """xdist's ``--tx`` for one host: this Python there, the host's folder as its working folder
    (the project is copied there) and its own model cache."""
    me = folder / address
    return (
        f"ssh={this_user()}@{address}//ssh_config={folder / 'ssh_config'}"
        f"//python={sys.executable}//chdir={me}//env:PUNIE_CACHE_DIR={me / 'cache'}"
    )


def running(pidfile: Path) -> bool:
    """The sshd of this pid file is alive."""
    try:
        os.kill(int(pidfile.read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def wait_for_login(folder: Path, address: str, seconds: float = 15.0) -> bool:
    """The host answers a key login (sshd forks in the background: give it a moment)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        done = subprocess.run(
            ["ssh", "-F", str(folder / "ssh_config"), address, "true"], capture_output=True, stdin=subprocess.DEVNULL
        )
        if done.returncode == 0:
            return True
        time.sleep(0.2)
    return False


def children() -> dict[int, list[int]]:
    """Every process's children, read from /proc."""
    out: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(entry.name))
    return out


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    kids = children()
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo.extend(kids.get(p, []))
    return seen


def kill(folder: Path, address: str) -> int:
    """End the host's sshd and every process of its sessions (SIGKILL): the host went away."""
    pidfile = folder / address / "sshd.pid"
    if not pidfile.exists():
        return 0
    for pid in tree(int(pidfile.read_text().split()[0])):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    pidfile.unlink()
    return 0


def stop(folder: Path) -> int:
    """End every host's sshd and sessions; nothing is left listening."""
    for pidfile in sorted(folder.glob("*/sshd.pid")):
        kill(folder, pidfile.parent.name)
    return 0


def main(argv: list[str]) -> int:
    """start / kill / stop, as the module docstring says."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("start", "tx", "kill", "stop"))
    parser.add_argument("folder", type=Path)
    parser.add_argument("addresses", nargs="*")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    if args.action == "start":
        return start(folder, args.addresses or ["127.0.0.2", "127.0.0.3"], args.port)
    if args.action == "tx":  # the started hosts' specs, as pytest options
        hosts = [p.parent.name for p in sorted(folder.glob("*/sshd.pid")) if running(p)]
        print(" ".join(f"--tx {tx_spec(folder, a)}" for a in args.addresses or hosts))
        return 0
    if args.action == "kill":
        return max([kill(folder, a) for a in args.addresses] or [0])
    return stop(folder)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
