"""The package installed the way users install it, each into a fresh virtualenv in a temporary
folder outside the checkout: `pip install <checkout>/sdk-python`, the sdist and the wheel that
`maturin build` makes. Each then imports the package and checks what PyPI would show."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent

SMOKE = """
import json, importlib.metadata as md
import ddiscord
meta = md.metadata("ddiscord-sdk")
print(json.dumps({
    "version": ddiscord.__version__,
    "error": ddiscord.DDiscordError.__name__,
    "requires_python": meta["Requires-Python"],
    "license": meta["License"],
    "urls": meta.get_all("Project-URL") or [],
}))
"""


def venv(tmp_path: Path) -> Path:
    """A fresh virtualenv; its python."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True)
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


def test_pip_install_from_the_checkout(tmp_path: Path) -> None:
    python = venv(tmp_path)
    pip_install(python, str(PACKAGE), cwd=tmp_path)
    smoke(python, cwd=tmp_path)


def test_the_wheel_installs(tmp_path: Path) -> None:
    wheel = maturin("build", "--profile", "dist", out=tmp_path / "dist")
    assert wheel.name.endswith("-cp39-abi3-manylinux_2_34_x86_64.whl") or "abi3" in wheel.name, wheel.name
    names = zipfile.ZipFile(wheel).namelist()
    assert "ddiscord/py.typed" in names and "ddiscord/_native.pyi" in names, names
    python = venv(tmp_path)
    pip_install(python, str(wheel), cwd=tmp_path)
    smoke(python, cwd=tmp_path)


def test_the_sdist_installs(tmp_path: Path) -> None:
    sdist = maturin("sdist", out=tmp_path / "dist")
    assert sdist.name == "ddiscord_sdk-0.1.0.tar.gz", sdist.name
    python = venv(tmp_path)
    pip_install(python, str(sdist), cwd=tmp_path)
    smoke(python, cwd=tmp_path)
