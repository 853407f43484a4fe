"""Run a command as if on an older x86 CPU: AVX2 only, or AVX-512 without VNNI, or AVX-512 with VNNI.

Encoder speed depends on the instruction set more than on anything else (block-wise int8 was 30 % faster than
float32 on an AVX-512/VNNI Xeon and 1.6x slower on an AVX2-only EPYC), and the libraries pick their kernels at run
time from what ``cpuid`` reports. This wrapper compiles ``bench/cpu_emulation/older_cpu.c`` (gcc) and runs the
command with it preloaded: every ``cpuid`` of the command and of the processes it starts reports the profile's
features only (through CPUID faulting), and ``/proc/cpuinfo`` shows the same flags with the model name marked
"(emulated PROFILE)", so recorded results, ``skillmatch.cpu.cpu_signature`` and ``auto``'s cached choice name the
emulated CPU. ONNX Runtime, oneDNN, torch and numpy then choose the kernels they choose on that CPU.

What it does not emulate: caches, clock, core count, micro-architecture. A figure measured this way is the
kernel choice of the older instruction set at this CPU's speed per instruction: it tells which backend wins and
whether the ratios hold there, not how fast an older machine is.

Needs Linux on x86-64 with CPUID faulting (flag ``cpuid_fault``: Intel CPUs and most KVM guests on them) and gcc.

    python bench/emulate_cpu.py avx2 -- skillmatch cache encoder
    python bench/emulate_cpu.py avx2 -- python bench/load.py --bundle /tmp/esco-1000 --concurrency 8
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

#: The instruction-set profiles the shim knows (SKILLMATCH_CPU_PROFILE).
PROFILES = ("avx2", "avx512", "avx512-vnni")

SOURCE = Path(__file__).resolve().parent / "cpu_emulation" / "older_cpu.c"


class EmulationUnavailable(RuntimeError):
    """This machine cannot emulate another CPU (not Linux x86-64, no CPUID faulting, no compiler)."""


def check_machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> None:
    """Raise :class:`EmulationUnavailable` naming what is missing for the shim on this machine."""
    if sys.platform != "linux" or platform.machine() not in {"x86_64", "AMD64"}:
        raise EmulationUnavailable(f"needs Linux on x86-64, this is {sys.platform} on {platform.machine()}")
    from skillmatch.cpu import read_cpuinfo

    _, flags = read_cpuinfo(cpuinfo)
    if "cpuid_fault" not in flags:
        raise EmulationUnavailable(f"this CPU has no CPUID faulting (no cpuid_fault flag in {cpuinfo})")
    if shutil.which("gcc") is None:
        raise EmulationUnavailable("needs gcc to build the shim (apt-get install -y gcc)")


def build_shim(out_dir: Path | None = None) -> Path:
    """Compile the shim (once per source version) and return the shared library's path."""
    digest = hashlib.sha1(SOURCE.read_bytes()).hexdigest()[:12]
    # the user's own cache, not a shared /tmp folder: whatever lies there is preloaded into every process
    out_dir = (
        out_dir
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "skillmatch" / "cpu-emulation"
    )
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    library = out_dir / f"older_cpu-{digest}.so"
    if not library.exists():
        partial = library.with_suffix(f".{os.getpid()}.tmp")
        result = subprocess.run(
            ["gcc", "-O2", "-Wall", "-shared", "-fPIC", "-o", str(partial), str(SOURCE), "-ldl"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise EmulationUnavailable(f"gcc could not build {SOURCE.name}:\n{result.stderr}")
        partial.replace(library)
    return library


def probe(library: Path, profile: str = "avx2") -> None:
    """Run ``true`` under the shim; raise :class:`EmulationUnavailable` with the shim's reason if it refuses (e.g. a
    container whose seccomp profile forbids ``arch_prctl``)."""
    result = subprocess.run(
        ["true"], env=emulated_env(profile, library), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise EmulationUnavailable(result.stderr.strip() or f"the shim failed (exit {result.returncode})")


def emulated_env(profile: str, library: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the shim preloaded for ``profile``."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    env = dict(os.environ if env is None else env)
    preload = " ".join(p for p in (str(library), env.get("LD_PRELOAD", "")) if p)
    return {**env, "LD_PRELOAD": preload, "SKILLMATCH_CPU_PROFILE": profile}


def main(argv: list[str] | None = None) -> int:
    """Run the command after ``--`` under the chosen profile; its exit status is ours."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("profile", choices=PROFILES, help="The instruction set to emulate.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run.")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    try:
        check_machine()
        library = build_shim()
        probe(library, args.profile)
    except EmulationUnavailable as exc:
        print(f"emulate_cpu: {exc}", file=sys.stderr)
        return 2
    return subprocess.run(command, env=emulated_env(args.profile, library), check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
