"""The package installed the way users install it, each into a fresh virtualenv in a temporary
folder outside the checkout: `pip install <checkout>/sdk-python`, the sdist and the wheel that
`maturin build` makes. Each then imports the package, calls into the native module and checks
what PyPI would show.

The abi3 wheel, built once, installs on this CPython and on a second one of another minor
version: `$DDISCORD_SECOND_PYTHON` when set, otherwise the CPython 3.13 that `scripts/cpython.sh`
builds once from Debian's source into ~/.cache/ddiscord (skipped, with the reason, only when that
source cannot be fetched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent
REPO = PACKAGE.parent
SECOND_VERSION = "3.13"
GUILD = 81384788765712384

SMOKE = """
import json, importlib.metadata as md
import platform
import ddiscord
meta = md.metadata("ddiscord-sdk")
print(json.dumps({
    "python": platform.python_version(),
    "shard": ddiscord.shard_for_guild(%d, 4),
    "version": ddiscord.__version__,
    "error": ddiscord.DDiscordError.__name__,
    "requires_python": meta["Requires-Python"],
    "license": meta["License"],
    "urls": meta.get_all("Project-URL") or [],
}))
""" % GUILD


def venv(tmp_path: Path, base: str = sys.executable) -> Path:
    """A fresh virtualenv of the CPython `base`; its python."""
    subprocess.run([base, "-m", "venv", str(tmp_path / "venv")], check=True)
    return tmp_path / "venv" / "bin" / "python"


def pip_install(python: Path, what: str, cwd: Path) -> None:
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", what],
        check=True,
        cwd=cwd,
    )


def smoke(python: Path, cwd: Path) -> dict[str, object]:
    out = subprocess.run([str(python), "-c", SMOKE], check=True, cwd=cwd, capture_output=True, text=True)
    seen: dict[str, object] = json.loads(out.stdout)
    assert seen["shard"] == (GUILD >> 22) % 4
    assert seen["version"] == "0.1.0"
    assert seen["error"] == "DDiscordError"
    assert seen["requires_python"] == ">=3.9"
    assert seen["license"] == "MIT OR Apache-2.0"
    assert any("Repository" in str(u) for u in seen["urls"]), seen["urls"]  # type: ignore[attr-defined]
    return seen


def maturin(*args: str, out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "maturin", *args, "--out", str(out)],
        check=True,
        cwd=PACKAGE,
        capture_output=True,
    )
    built = sorted(out.iterdir())
    assert len(built) == 1, built
    return built[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The abi3 wheel `maturin build --profile dist` makes, built once for every interpreter."""
    built = maturin("build", "--profile", "dist", out=tmp_path_factory.mktemp("dist"))
    assert "-cp39-abi3-" in built.name, built.name
    names = zipfile.ZipFile(built).namelist()
    assert "ddiscord/py.typed" in names and "ddiscord/_native.pyi" in names, names
    return built


@pytest.fixture(scope="module")
def second_python() -> str:
    """A CPython of another minor version than this one."""
    chosen = os.environ.get("DDISCORD_SECOND_PYTHON")
    if not chosen:
        found = subprocess.run(
            ["bash", str(REPO / "scripts" / "cpython.sh"), SECOND_VERSION], capture_output=True, text=True
        )
        if found.returncode == 3:
            pytest.skip(f"no second CPython: {found.stderr.strip().splitlines()[-1]}")
        assert found.returncode == 0, f"scripts/cpython.sh {SECOND_VERSION} failed:\n{found.stderr}"
        chosen = found.stdout.strip()
    return chosen


def test_pip_install_from_the_checkout(tmp_path: Path) -> None:
    python = venv(tmp_path)
    pip_install(python, str(PACKAGE), cwd=tmp_path)
    smoke(python, cwd=tmp_path)


def test_the_wheel_installs(wheel: Path, tmp_path: Path) -> None:
    python = venv(tmp_path)
    pip_install(python, str(wheel), cwd=tmp_path)
    assert smoke(python, cwd=tmp_path)["python"] == "%d.%d.%d" % sys.version_info[:3]


def test_the_same_wheel_installs_on_a_second_cpython(wheel: Path, second_python: str, tmp_path: Path) -> None:
    python = venv(tmp_path, base=second_python)
    pip_install(python, str(wheel), cwd=tmp_path)
    seen = smoke(python, cwd=tmp_path)
    other = str(seen["python"]).split(".")[:2]
    assert other != [str(n) for n in sys.version_info[:2]], f"{second_python} is CPython {seen['python']}, as this one"
    assert [int(n) for n in other] >= [3, 9], seen["python"]


def test_the_sdist_installs(tmp_path: Path) -> None:
    sdist = maturin("sdist", out=tmp_path / "dist")
    assert sdist.name == "ddiscord_sdk-0.1.0.tar.gz", sdist.name
    python = venv(tmp_path)
    pip_install(python, str(sdist), cwd=tmp_path)
    smoke(python, cwd=tmp_path)
