"""Installing without cloning: the wheel, pip / uv tool / uvx / pipx, the Claude Desktop bundle, server.json.

Each slow test installs the way a user would, into folders under tmp (a fresh venv, UV_TOOL_DIR,
PIPX_HOME, an XDG data folder), with dependencies from PyPI, and talks to the installed
`remembrancer serve` with a real MCP client. The bundle is built by `make bundle` with the
official `@anthropic-ai/mcpb` CLI (installed from npm into the pytest cache), unpacked by it,
and started the way Claude Desktop starts it: the manifest's `mcp_config`, resolved by the
same package's `getMcpConfigForManifest`. `server.json` is checked against the MCP Registry's
published schema (tests/data/server.schema.json, see tests/data/README.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs; only Draft7Validator is used
import pytest
from mcp.client.stdio import StdioServerParameters

from remembrancer.config import ENV_NAMES
from servers import stdio_session, tool_data

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAME: str = PYPROJECT["project"]["name"]
VERSION: str = PYPROJECT["project"]["version"]
MANIFEST: dict[str, Any] = json.loads((ROOT / "bundle" / "manifest.json").read_text(encoding="utf-8"))
SERVER_JSON: dict[str, Any] = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
SCHEMA_SHA256 = "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0"
_MAKE_VERSION = re.search(r"^MCPB_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
assert _MAKE_VERSION, "the Makefile names no MCPB_VERSION"
MCPB_VERSION = _MAKE_VERSION.group(1)

FACT = "My locker code at the climbing gym is 4411."
QUERY = "What is my locker code?"
READ_TIMEOUT = 180.0  # the bundle's first start waits for uv to install the dependencies
INSTALL_TIMEOUT = 900  # a cold pip cache downloads every dependency from PyPI


# -- helpers ------------------------------------------------------------------------------------


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    """This process's environment without our settings, with the data folder and uv's Python in tmp."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REMEMBRANCER_", "ANTHROPIC_", "PIPX_", "UV_"))
        and key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}
    }
    env.update(
        XDG_DATA_HOME=str(tmp / "xdg-data"),  # the default database lands here, not in ~
        HF_HUB_OFFLINE="1",
        UV_PYTHON=sys.executable,  # the tests' interpreter: uv neither downloads nor looks around
        UV_PYTHON_DOWNLOADS="never",
        npm_config_update_notifier="false",
    )
    env.update(extra)
    return env


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = INSTALL_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _passed_through(env: dict[str, str]) -> dict[str, str]:
    """What a server started by uv needs from the environment besides ours: the data folder, uv's
    settings, and the machine's TLS and proxy settings (uv downloads the dependencies)."""
    keep = ("XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HUB_OFFLINE", "UV_PYTHON", "UV_PYTHON_DOWNLOADS")
    network = ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY")
    return {key: env[key] for key in (*keep, *network, *(k.lower() for k in network)) if key in env}


def _default_db(tmp: Path) -> Path:
    """Where `remembrancer` keeps memories with nothing configured (platformdirs on Linux)."""
    return tmp / "xdg-data" / "remembrancer" / "memory.db"


def _first_line(description: str | None) -> str:
    return (description or "").strip().splitlines()[0].strip()


async def _session(
    command: str, args: list[str], env: dict[str, str], cwd: Path, log: Path, expect: str = "added"
) -> dict[str, Any]:
    """Start `command args` as a stdio MCP server, remember FACT (`expect`: added, or duplicate when
    it is already stored), recall it; what the server said."""
    params = StdioServerParameters(command=command, args=args, env=env, cwd=cwd)
    async with stdio_session(params, log, READ_TIMEOUT) as client:
        assert client.server_info is not None
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        added = tool_data(await client.call_tool("remember", {"content": FACT}))
        assert added["status"] == expect, added
        recalled = tool_data(await client.call_tool("recall", {"query": QUERY, "limit": 3}))
        assert recalled["hits"], recalled
        assert recalled["hits"][0]["content"] == FACT, recalled["hits"]
        return {
            "name": client.server_info.name,
            "version": client.server_info.version,
            "tools": {name: _first_line(tool.description) for name, tool in tools.items()},
            "memory": added["memory"],
            "memory_id": added["duplicate_of"] if expect == "duplicate" else added["memory"]["id"],
        }


def _build_wheel(source: Path, out: Path) -> Path:
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        os.environ.copy(),
        out.parent,
    )
    wheels = sorted(out.glob(f"{NAME}-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def _next_version(version: str) -> str:
    parts = version.split(".")
    return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])


# -- fast checks: the manifest and server.json agree with the project ---------------------------


def test_bundle_manifest_matches_the_project() -> None:
    assert MANIFEST["name"] == NAME
    assert MANIFEST["version"] == VERSION
    assert MANIFEST["license"] == PYPROJECT["project"]["license"]
    assert MANIFEST["compatibility"]["runtimes"]["python"] == PYPROJECT["project"]["requires-python"]
    assert {tool["name"] for tool in MANIFEST["tools"]} == {"remember", "recall", "forget"}

    server = MANIFEST["server"]
    assert server["type"] == "uv"
    assert (ROOT / "bundle" / server["entry_point"]).is_file()
    assert server["mcp_config"]["args"][-1] == server["entry_point"]

    # Every setting offered is one the server reads, passed as an environment variable, and has
    # a default: the host substitutes ${user_config.X} only for keys with a value, and an empty
    # value means "not set" to the server (config.load_settings).
    user_config = MANIFEST["user_config"]
    env = server["mcp_config"]["env"]
    assert set(env) <= set(ENV_NAMES.values())
    assert set(env) == {"REMEMBRANCER_DB", "REMEMBRANCER_SCOPE", "ANTHROPIC_API_KEY"}
    assert sorted(env.values()) == sorted(f"${{user_config.{key}}}" for key in user_config)
    assert all("default" in option for option in user_config.values())
    assert user_config["anthropic_api_key"]["sensitive"] is True
    assert not any(option.get("required") for option in user_config.values())


def test_server_json_is_valid_against_the_registry_schema() -> None:
    raw = (DATA / "server.schema.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "tests/data/server.schema.json was changed"
    schema = json.loads(raw)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(SERVER_JSON)
    ]
    assert not errors, errors
    assert SERVER_JSON["$schema"] == schema["$id"]

    assert SERVER_JSON["version"] == VERSION
    [package] = SERVER_JSON["packages"]
    assert package["registryType"] == "pypi"
    assert package["identifier"] == NAME
    assert package["version"] == VERSION
    assert package["transport"] == {"type": "stdio"}
    assert [arg["value"] for arg in package["packageArguments"]] == ["serve"]
    variables = {var["name"]: var for var in package["environmentVariables"]}
    assert set(variables) == set(MANIFEST["server"]["mcp_config"]["env"])
    assert variables["ANTHROPIC_API_KEY"]["isSecret"] is True
    assert not any(var.get("isRequired") for var in variables.values())


def test_server_json_is_refused_when_it_breaks_the_schema() -> None:
    """The schema check has teeth: the registry's own limits are enforced."""
    schema = json.loads((DATA / "server.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    too_long = {**SERVER_JSON, "description": "x" * 101}
    no_slash = {**SERVER_JSON, "name": "remembrancer"}
    latest = {**SERVER_JSON, "packages": [{**SERVER_JSON["packages"][0], "version": "latest"}]}
    for broken in (too_long, no_slash, latest):
        assert list(validator.iter_errors(broken)), broken


def test_readme_carries_the_registry_ownership_marker() -> None:
    """The MCP Registry accepts a PyPI package only if its description (README.md) names the server."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"mcp-name: {SERVER_JSON['name']}" in readme


# -- the wheel ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree, built like `pip wheel --no-deps .` (hatchling from PyPI)."""
    return _build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def wheels(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """This version's wheel and one of the next version (same code), for upgrades."""
    source = tmp_path_factory.mktemp("next-source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "server" / "remembrancer",
        source / "server" / "remembrancer",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    pyproject = source / "pyproject.toml"
    bumped = pyproject.read_text().replace(
        f'version = "{VERSION}"', f'version = "{_next_version(VERSION)}"', 1
    )
    pyproject.write_text(bumped)
    return {"current": wheel, "next": _build_wheel(source, tmp_path_factory.mktemp("next-wheel"))}


@pytest.mark.slow
def test_the_wheel_carries_the_package_and_the_bundled_model(wheel: Path) -> None:
    assert wheel.name == f"{NAME}-{VERSION}-py3-none-any.whl"
    package = ROOT / "server" / "remembrancer"
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
        entry_points = archive.read(f"{NAME}-{VERSION}.dist-info/entry_points.txt").decode()
    expected = [
        path
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    missing = [
        str(p.relative_to(package)) for p in expected if f"remembrancer/{p.relative_to(package)}" not in sizes
    ]
    assert not missing, missing
    model = sorted((package / "model").iterdir())
    assert {p.name for p in model} >= {"model.onnx", "tokenizer.json", "config.json", "NOTICE-model.txt"}
    for path in model:
        assert sizes[f"remembrancer/model/{path.name}"] == path.stat().st_size, path.name
    assert not [name for name in sizes if "__pycache__" in name or name.endswith(".pyc")]
    assert re.search(r"^remembrancer = remembrancer\.cli:main$", entry_points, re.M), entry_points


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.timeout(INSTALL_TIMEOUT)
async def test_pip_install_in_a_fresh_venv_serves_over_stdio(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    env = _env(tmp_path)
    _run([sys.executable, "-m", "venv", str(venv)], env, tmp_path)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], env, tmp_path)
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import remembrancer; print(remembrancer.__file__)"],
        env,
        tmp_path,
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # not the repository's copy

    db = tmp_path / "memory.db"
    served = await _session(
        str(venv / "bin" / "remembrancer"),
        ["serve", "--db", str(db)],
        {"XDG_DATA_HOME": env["XDG_DATA_HOME"], "HF_HUB_OFFLINE": "1"},
        tmp_path,
        tmp_path / "pip-serve.log",
    )
    assert served["name"] == NAME
    assert served["version"] == VERSION
    assert db.exists() and not _default_db(tmp_path).exists()
    # The bundle's manifest lists exactly the tools the installed server serves, in its words.
    assert served["tools"] == {tool["name"]: tool["description"] for tool in MANIFEST["tools"]}


# -- uv and pipx --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """uv (uv, uvx) and pipx from PyPI, in a venv of their own."""
    home = tmp_path_factory.mktemp("tools")
    _run([sys.executable, "-m", "venv", str(home / "venv")], os.environ.copy(), home)
    bin_dir = home / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "uv", "pipx"], os.environ.copy(), home)
    return {name: bin_dir / name for name in ("uv", "uvx", "pipx")}


def _remember_then_recall(script: Path, env: dict[str, str], tmp: Path) -> str:
    """`remembrancer remember` with the default database, then `recall` finds it; the memory's id."""
    added = json.loads(_run([str(script), "remember", FACT, "--json"], env, tmp).stdout)
    assert added["status"] == "added", added
    return str(added["memory"]["id"])


def _recalled_ids(script: Path, env: dict[str, str], tmp: Path) -> list[str]:
    found = json.loads(_run([str(script), "recall", QUERY, "--json"], env, tmp).stdout)
    return [hit["id"] for hit in found["hits"]]


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_uv_tool_install_upgrade_and_uninstall_keep_the_memories(
    wheels: dict[str, Path], tools: dict[str, Path], tmp_path: Path
) -> None:
    """`uv tool install`, `uv tool upgrade`, `uv tool uninstall`: the data folder outlives all three."""
    index = tmp_path / "index"  # stands in for PyPI: a folder of wheels, this version only at first
    index.mkdir()
    shutil.copy2(wheels["current"], index)
    env = _env(tmp_path, UV_TOOL_DIR=str(tmp_path / "uv-tools"), UV_TOOL_BIN_DIR=str(tmp_path / "uv-bin"))
    uv = str(tools["uv"])
    script = tmp_path / "uv-bin" / "remembrancer"

    _run([uv, "tool", "install", "--find-links", str(index), NAME], env, tmp_path)
    assert f"{NAME} v{VERSION}" in _run([uv, "tool", "list"], env, tmp_path).stdout
    memory = _remember_then_recall(script, env, tmp_path)
    assert _default_db(tmp_path).exists()

    shutil.copy2(wheels["next"], index)  # a new release appears
    _run([uv, "tool", "upgrade", NAME], env, tmp_path)
    assert f"{NAME} v{_next_version(VERSION)}" in _run([uv, "tool", "list"], env, tmp_path).stdout
    assert _recalled_ids(script, env, tmp_path)[0] == memory

    _run([uv, "tool", "uninstall", NAME], env, tmp_path)
    assert not script.exists()
    assert not (tmp_path / "uv-tools" / NAME).exists()
    assert _default_db(tmp_path).exists(), "uninstalling must leave the memories in the data folder"

    # Installed again, from git this time (a local repository stands in for GitHub): the
    # memories are still there.
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: `uv tool install git+...` not tried")
    _run([uv, "tool", "install", f"git+file://{ROOT}"], env, tmp_path)
    assert _recalled_ids(script, env, tmp_path)[0] == memory
    _run([uv, "tool", "uninstall", NAME], env, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_pipx_install_upgrade_and_uninstall_keep_the_memories(
    wheels: dict[str, Path], tools: dict[str, Path], tmp_path: Path
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    shutil.copy2(wheels["current"], index)
    env = _env(
        tmp_path,
        PIPX_HOME=str(tmp_path / "pipx-home"),
        PIPX_BIN_DIR=str(tmp_path / "pipx-bin"),
        PIPX_MAN_DIR=str(tmp_path / "pipx-man"),
        PIPX_DEFAULT_PYTHON=sys.executable,
        PIPX_DEFAULT_BACKEND="pip",  # what pipx uses without uv; the uv backend is uv, tested above
    )
    pipx = str(tools["pipx"])
    script = tmp_path / "pipx-bin" / "remembrancer"

    _run([pipx, "install", f"--pip-args=--find-links {index}", NAME], env, tmp_path)
    assert f"{NAME} {VERSION}" in _run([pipx, "list", "--short"], env, tmp_path).stdout
    memory = _remember_then_recall(script, env, tmp_path)

    shutil.copy2(wheels["next"], index)
    _run([pipx, "upgrade", NAME], env, tmp_path)
    assert f"{NAME} {_next_version(VERSION)}" in _run([pipx, "list", "--short"], env, tmp_path).stdout
    assert _recalled_ids(script, env, tmp_path)[0] == memory

    _run([pipx, "uninstall", NAME], env, tmp_path)
    assert not script.exists()
    assert _default_db(tmp_path).exists(), "uninstalling must leave the memories in the data folder"


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.timeout(INSTALL_TIMEOUT)
async def test_uvx_serves_the_release_then_the_latest_and_runs_from_a_wheel_a_folder_and_git(
    wheels: dict[str, Path], tools: dict[str, Path], tmp_path: Path
) -> None:
    index = tmp_path / "index"  # stands in for PyPI
    index.mkdir()
    shutil.copy2(wheels["current"], index)
    env = _env(tmp_path)
    uvx = str(tools["uvx"])
    first = await _session(
        uvx,
        ["--find-links", str(index), "remembrancer", "serve"],  # no --db: the default data folder
        _passed_through(env),
        tmp_path,
        tmp_path / "uvx-serve.log",
    )
    assert first["version"] == VERSION
    assert _default_db(tmp_path).exists()

    shutil.copy2(wheels["next"], index)  # a new release: `@latest` runs it, on the same memories
    latest = await _session(
        uvx,
        ["--find-links", str(index), "remembrancer@latest", "serve"],
        _passed_through(env),
        tmp_path,
        tmp_path / "uvx-latest.log",
        expect="duplicate",
    )
    assert latest["version"] == _next_version(VERSION)
    assert latest["memory_id"] == first["memory_id"]

    # From a wheel, from a clone's folder, and from git (a local repository stands in for GitHub).
    for source in (str(wheels["current"]), str(ROOT)):
        assert "serve" in _run([uvx, "--from", source, "remembrancer", "--help"], env, tmp_path).stdout
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: `uvx --from git+...` not tried")
    git = _run([uvx, "--from", f"git+file://{ROOT}", "remembrancer", "--help"], env, tmp_path)
    assert "serve" in git.stdout


# -- the Claude Desktop bundle ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mcpb_home(request: pytest.FixtureRequest) -> Path:
    """Where `make bundle` installs the mcpb CLI for the tests: the pytest cache, kept between runs."""
    return Path(request.config.cache.mkdir(f"mcpb-cli-{MCPB_VERSION}"))


@pytest.fixture(scope="module")
def bundle(mcpb_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make bundle`, with its staging folder and output in tmp instead of build/ and dist/."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("node and npm are not on PATH: install Node.js 20+ to build the .mcpb bundle")
    out = tmp_path_factory.mktemp("bundle")
    target = out / "remembrancer.mcpb"
    _run(
        [
            "make",
            "--no-print-directory",
            "bundle",
            f"MCPB_DIR={mcpb_home}",
            f"BUNDLE_STAGE={out / 'stage'}",
            f"BUNDLE={target}",
        ],
        _env(out),
        ROOT,
    )
    assert target.is_file()
    return target


def _mcpb(mcpb_home: Path) -> str:
    return str(mcpb_home / "node_modules" / ".bin" / "mcpb")


@pytest.mark.slow
@pytest.mark.timeout(INSTALL_TIMEOUT)
def test_make_bundle_packs_a_valid_mcpb_with_what_the_manifest_names(bundle: Path, mcpb_home: Path) -> None:
    env = _env(bundle.parent)
    validated = _run([_mcpb(mcpb_home), "validate", str(ROOT / "bundle" / "manifest.json")], env, ROOT)
    assert "validation passes" in validated.stdout

    info = _run([_mcpb(mcpb_home), "info", str(bundle)], env, bundle.parent).stdout
    assert bundle.name in info and "Not signed" in info, info  # info shows file, size and signature

    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        packed_manifest = json.loads(archive.read("manifest.json"))
    assert packed_manifest == MANIFEST
    assert {"manifest.json", "pyproject.toml", "README.md", MANIFEST["server"]["entry_point"]} <= names
    package = ROOT / "server" / "remembrancer"
    expected = {
        f"server/remembrancer/{path.relative_to(package).as_posix()}"
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert expected <= names, sorted(expected - names)
    assert "server/remembrancer/model/model.onnx" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc") or ".venv/" in name]
    assert not [name for name in names if name.startswith(("server/lib/", "server/venv/"))]  # uv type: none


def _resolved_config(mcpb_home: Path, unpacked: Path, user_config: dict[str, str] | None) -> dict[str, Any]:
    """The manifest's mcp_config as the host computes it, by the mcpb package's own code."""
    module = (mcpb_home / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "node.js").as_uri()
    script = f"""
import {{ readFileSync }} from "node:fs";
import {{ getMcpConfigForManifest }} from {json.dumps(module)};
const dir = process.argv[1];
const manifest = JSON.parse(readFileSync(dir + "/manifest.json", "utf8"));
const config = await getMcpConfigForManifest({{
  manifest, extensionPath: dir, systemDirs: {{ HOME: process.env.HOME }}, pathSeparator: "/",
  userConfig: JSON.parse(process.argv[2]),
}});
console.log(JSON.stringify(config));
"""
    node = shutil.which("node")
    assert node is not None
    args = [node, "--input-type=module", "-e", script, str(unpacked), json.dumps(user_config)]
    result: dict[str, Any] = json.loads(_run(args, os.environ.copy(), unpacked).stdout)
    return result


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.timeout(INSTALL_TIMEOUT)
async def test_the_bundle_runs_the_way_claude_desktop_starts_it(
    bundle: Path, mcpb_home: Path, tools: dict[str, Path], tmp_path: Path
) -> None:
    unpacked = tmp_path / "extension"
    _run([_mcpb(mcpb_home), "unpack", str(bundle), str(unpacked)], _env(tmp_path), tmp_path)

    # Left as installed, every setting is empty: the server then uses its own defaults.
    defaults = _resolved_config(mcpb_home, unpacked, None)
    assert defaults["env"] == {
        "REMEMBRANCER_DB": "",
        "REMEMBRANCER_SCOPE": "default",
        "ANTHROPIC_API_KEY": "",
    }

    db = tmp_path / "chosen" / "memories.db"
    db.parent.mkdir()
    config = _resolved_config(
        mcpb_home, unpacked, {"database_path": str(db), "scope": "desktop", "anthropic_api_key": ""}
    )
    assert config["command"] == "uv"
    assert config["args"] == ["run", "--directory", str(unpacked), "main.py"]
    assert config["env"] == {
        "REMEMBRANCER_DB": str(db),
        "REMEMBRANCER_SCOPE": "desktop",
        "ANTHROPIC_API_KEY": "",
    }
    assert "${" not in json.dumps(config)

    # The host supplies uv; here it is the one from PyPI. uv installs the bundle's pyproject.toml.
    env = _env(tmp_path)
    served = await _session(
        str(tools["uv"]),
        config["args"],
        {
            **config["env"],
            **_passed_through(env),
        },
        tmp_path,
        tmp_path / "bundle-serve.log",
    )
    assert served["version"] == VERSION
    assert served["memory"]["scope"] == "desktop"
    assert db.exists()
    assert not _default_db(tmp_path).exists()
