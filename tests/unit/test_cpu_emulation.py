"""bench/emulate_cpu.py: a command sees an older x86 CPU (cpuid, /proc/cpuinfo), and real faults still count."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def emulate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_emulate_cpu", BENCH / "emulate_cpu.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shim(emulate: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        emulate.check_machine()
        library = emulate.build_shim(tmp_path_factory.mktemp("shim"))
        emulate.probe(library)
    except emulate.EmulationUnavailable as exc:
        pytest.skip(f"this machine cannot emulate a CPU: {exc}")
    if "avx2" not in host_flags():
        pytest.skip("the host has no AVX2, so the profiles cannot keep it")
    return library


def run_as(
    emulate: ModuleType, shim: Path, profile: str, code: str, *flags: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        env=emulate.emulated_env(profile, shim),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


FEATURES = """
import numpy as np
from skillmatch.cpu import cpu_info
features = np._core._multiarray_umath.__cpu_features__
info = cpu_info()
print(info["model"])
print(" ".join(info["flags"]))
print(" ".join(k for k in ("AVX2", "AVX512F", "AVX512BW", "AVX512VNNI") if features.get(k)))
"""


def host_flags() -> set[str]:
    from skillmatch.cpu import cpu_info

    return set(cpu_info()["flags"])


def test_the_environment_preloads_the_shim_before_what_was_there(emulate: ModuleType, tmp_path: Path) -> None:
    env = emulate.emulated_env("avx2", tmp_path / "shim.so", {"LD_PRELOAD": "/other.so", "PATH": "/bin"})
    assert env["LD_PRELOAD"] == f"{tmp_path / 'shim.so'} /other.so"
    assert env["SKILLMATCH_CPU_PROFILE"] == "avx2"
    assert env["PATH"] == "/bin"
    with pytest.raises(ValueError, match="unknown profile 'avx1'"):
        emulate.emulated_env("avx1", tmp_path / "shim.so", {})


def test_a_machine_without_cpuid_faulting_is_told_so(emulate: ModuleType, tmp_path: Path) -> None:
    if sys.platform != "linux":
        pytest.skip("Linux only")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("model name\t: Some CPU\nflags\t\t: fpu sse4_2 avx avx2 fma\n")
    with pytest.raises(emulate.EmulationUnavailable, match="no CPUID faulting"):
        emulate.check_machine(cpuinfo)


def test_avx2_profile_hides_avx512_from_cpuid_and_proc_cpuinfo(emulate: ModuleType, shim: Path) -> None:
    result = run_as(emulate, shim, "avx2", FEATURES)
    assert result.returncode == 0, result.stderr
    model, flags, features = result.stdout.splitlines()
    assert model.endswith("(emulated avx2)")
    assert {"avx2", "fma"} <= set(flags.split())
    assert not {f for f in flags.split() if f.startswith(("avx512", "amx", "avx_vnni"))}
    assert features.split() == ["AVX2"]  # what numpy's own cpuid sees


def test_avx512_profile_keeps_avx512_without_vnni(emulate: ModuleType, shim: Path) -> None:
    if not {"avx512f", "avx512bw", "avx512_vnni"} <= host_flags():
        pytest.skip("the host has no AVX-512 VNNI to take away")
    plain = run_as(emulate, shim, "avx512", FEATURES)
    vnni = run_as(emulate, shim, "avx512-vnni", FEATURES)
    assert plain.returncode == 0 and vnni.returncode == 0, plain.stderr + vnni.stderr
    assert plain.stdout.splitlines()[2].split() == ["AVX2", "AVX512F", "AVX512BW"]
    assert vnni.stdout.splitlines()[2].split() == ["AVX2", "AVX512F", "AVX512BW", "AVX512VNNI"]
    assert "avx512_vnni" not in plain.stdout.splitlines()[1].split()
    assert "avx512_vnni" in vnni.stdout.splitlines()[1].split()


def test_a_real_fault_still_reaches_the_programs_own_handler(emulate: ModuleType, shim: Path) -> None:
    # faulthandler installs its SIGSEGV handler at start-up; numpy's import then runs cpuid, which must still be
    # emulated, and the null read after it must reach faulthandler and end the process as a segfault would
    code = "import numpy, ctypes; print('imported', flush=True); ctypes.string_at(0)"
    result = run_as(emulate, shim, "avx2", code, "-X", "faulthandler")
    assert "imported" in result.stdout
    assert "Segmentation fault" in result.stderr
    assert result.returncode == -11


def test_plots_name_an_emulated_instruction_set() -> None:
    spec = importlib.util.spec_from_file_location("bench_plot", BENCH / "plot.py")
    assert spec and spec.loader
    plot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plot)
    emulated = {
        "machine": {
            "cpu": {
                "model": "Intel(R) Xeon(R) Processor (emulated avx2)",
                "usable_cpus": 2,
                "flags": ["sse4_2", "avx", "avx2", "fma"],
            }
        }
    }
    native = {
        "machine": {
            "cpu": {"model": "Intel(R) Xeon(R) Processor", "usable_cpus": 2, "flags": ["avx2", "avx512f"]}
        }
    }
    assert plot.cpu_kind(emulated) == "AVX2 (emulated)"
    assert plot.cpu_kind(native) == "AVX-512"
    assert plot.cpu_label(emulated) == "Intel(R) Xeon(R) Processor (emulated avx2), 2 cores, AVX2"


def test_a_handler_set_with_signal_is_kept_aside_too(emulate: ModuleType, shim: Path) -> None:
    # glibc's signal() does not call the sigaction symbol; a C library that uses it must not unhook the emulation
    code = """
import ctypes, os
libc = ctypes.CDLL(None)
libc.signal.restype = ctypes.c_void_p
@ctypes.CFUNCTYPE(None, ctypes.c_int)
def on_fault(sig):
    os.write(1, b"handled %d" % sig)
    os._exit(42)
libc.signal(11, on_fault)
import numpy
features = numpy._core._multiarray_umath.__cpu_features__
os.write(1, b"AVX2 %d AVX512F %d, " % (features["AVX2"], features["AVX512F"]))
ctypes.string_at(0)
"""
    result = run_as(emulate, shim, "avx2", code)
    # numpy's cpuid still emulated after signal(), and the null read handled by the program's handler
    assert result.stdout == "AVX2 1 AVX512F 0, handled 11"
    assert result.returncode == 42
