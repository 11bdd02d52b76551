"""The shipped deployment files and the configuration reference stay true to the code.

They are not run by any other test, so these checks catch them rotting: a setting added without
documentation, a unit calling a command option that was renamed, an nginx site that no longer
lets a full-size attachment through, a service script Windows PowerShell would misread.
"""

from __future__ import annotations

import os
import re
import runpy
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class
from django.core.management.base import CommandError

from ibcloud.core import jobs
from ibcloud.core.parameters import definitions

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
UBUNTU = DEPLOY / "ubuntu"
CLUSTER = DEPLOY / "cluster"
WINDOWS = DEPLOY / "windows"
CONFIGURATION = ROOT / "docs" / "configuration.md"
#: where the units expect the repository; paths below it are checked against this checkout
INSTALL_DIR = "/opt/ibcloud/"

#: reads of the environment in the code: env("X"), env_bool/env_list, os.environ.get/getenv,
#: os.environ["X"]; spread over lines or not
ENV_READ = re.compile(
    r"""(?:\benv|\benv_bool|\benv_list|environ\.get|\bgetenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
#: variables that belong to the request (WSGI) or the platform, not to configuration
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
#: variables the deployment files use that the application itself never reads
DEPLOYMENT_ONLY = {"GUNICORN_CMD_ARGS", "FORWARDED_ALLOW_IPS", "IBCLOUD_WORKER_OPTIONS"}


def variables_read_by_code() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "src" / "ibcloud").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for match in ENV_READ.finditer(path.read_text(encoding="utf-8")):
            name = match.group(1) or match.group(2)
            if name.startswith("IBCLOUD_") or name in {"DATABASE_URL", "REDIS_URL"}:
                found.add(name)
    return found - NOT_SETTINGS


def unit_files() -> list[Path]:
    return sorted([*UBUNTU.glob("*.service"), *UBUNTU.glob("*.target"), *CLUSTER.glob("*.target")])


def read_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]}; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith(("#", ";")):
            continue
        if text.startswith("[") and text.endswith("]"):
            current = sections.setdefault(text[1:-1], [])
            continue
        key, equals, value = text.partition("=")
        assert equals and current is not None, f"{path.name}:{number} is not key=value: {line!r}"
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", key.strip()), f"{path.name}:{number} key"
        current.append((key.strip(), value.strip()))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for name, value in unit.get(section, []) if name == key]


def read_env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, equals, value = text.partition("=")
        assert equals and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"{path.name}: {line!r}"
        pairs[key] = value.strip('"')
    return pairs


def parse_ibcloud_arguments(arguments: list[str]) -> None:
    """Parse ``ibcloud <command> <options>`` with the command's own parser, as it would run."""
    name, *options = arguments
    commands = get_commands()
    assert name in commands, f"`ibcloud {name}` is not a command"
    command = load_command_class(commands[name], name)
    parser = command.create_parser("ibcloud", name)
    try:
        parser.parse_args(options)
    except CommandError as exc:  # the parser raises this instead of exiting
        pytest.fail(f"`ibcloud {' '.join(arguments)}`: {exc}")


def documented_worker_options() -> list[str]:
    """Every IBCLOUD_WORKER_OPTIONS example in the deployment files and docs."""
    sources = [*DEPLOY.rglob("*"), *(ROOT / "docs").glob("deployment-*.md")]
    found = []
    for path in sources:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            found += re.findall(r'IBCLOUD_WORKER_OPTIONS="([^"]*)"', text)
    return found


# --- Configuration reference -------------------------------------------------------------------


def test_every_environment_variable_the_code_reads_is_in_the_configuration_reference():
    read = variables_read_by_code()
    # The scan itself still works (it would otherwise pass by finding nothing).
    assert {"IBCLOUD_DATA_DIR", "DATABASE_URL", "REDIS_URL", "IBCLOUD_CHROMIUM"} <= read
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", CONFIGURATION.read_text(encoding="utf-8")))
    assert sorted(read - documented) == []


def test_the_configuration_reference_names_no_variable_the_code_does_not_read():
    text = CONFIGURATION.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(IBCLOUD_[A-Z0-9_]+)`", text))
    assert sorted(documented - variables_read_by_code() - DEPLOYMENT_ONLY) == []


def test_every_system_parameter_is_in_the_configuration_reference():
    text = CONFIGURATION.read_text(encoding="utf-8")
    keys = [definition.key for definition in definitions()]
    assert "jobs.retention_days" in keys
    assert [key for key in keys if f"`{key}`" not in text] == []


@pytest.mark.parametrize(
    "env_file",
    [UBUNTU / "ibcloud.env", CLUSTER / "ibcloud-cluster.env", WINDOWS / "ibcloud.env"],
    ids=lambda path: f"{path.parent.name}/{path.name}",
)
def test_environment_files_set_only_variables_that_exist(env_file):
    names = set(read_env_file(env_file))
    assert "IBCLOUD_SECRET_KEY" in names
    assert sorted(names - variables_read_by_code() - DEPLOYMENT_ONLY) == []


def test_every_deployment_file_the_docs_name_exists():
    named = set()
    for doc in [*(ROOT / "docs").glob("deployment-*.md"), CONFIGURATION]:
        named |= set(re.findall(r"deploy[/\\][\w./\\@-]+\w", doc.read_text(encoding="utf-8")))
    assert len(named) > 10
    missing = [name for name in named if not (ROOT / name.replace("\\", "/")).exists()]
    assert sorted(missing) == []


# --- systemd -----------------------------------------------------------------------------------


def test_the_units_are_well_formed():
    units = {path.name: read_unit(path) for path in unit_files()}
    assert {"ibcloud-web.service", "ibcloud-worker@.service", "ibcloud.target"} <= set(units)
    for name, unit in units.items():
        assert "Unit" in unit and "Description" in dict(unit["Unit"]), name
        if name.endswith(".service"):
            service = dict(unit["Service"])
            assert service["User"] == "ibcloud", name
            assert service["EnvironmentFile"] == "/etc/ibcloud/ibcloud.env", name
            assert "/var/lib/ibcloud" in service["ReadWritePaths"].split(), name
            assert values(unit, "Install", "WantedBy") == ["ibcloud.target"], name


def test_the_targets_want_units_that_are_shipped():
    shipped = {path.name for path in unit_files()}
    for path in unit_files():
        if path.suffix != ".target":
            continue
        for wanted in " ".join(values(read_unit(path), "Unit", "Wants")).split():
            if wanted.startswith("ibcloud"):
                template = re.sub(r"@[^.]+\.", "@.", wanted)
                assert template in shipped, f"{path.name} wants {wanted}"


def test_unit_commands_name_ibcloud_commands_and_options_that_exist():
    checked = 0
    for path in unit_files():
        unit = read_unit(path)
        for key in ("ExecStartPre", "ExecStart"):
            for command in values(unit, "Service", key):
                program, *arguments = shlex.split(command)
                # Paths below the install directory exist in this checkout (the venv aside).
                for word in (program, *arguments):
                    if word.startswith(INSTALL_DIR) and "/.venv/" not in word:
                        assert (ROOT / word.removeprefix(INSTALL_DIR)).exists(), word
                if not program.endswith("/bin/ibcloud"):
                    continue
                # The option variable is empty unless a drop-in sets it (tested below).
                arguments = [word for word in arguments if word != "$IBCLOUD_WORKER_OPTIONS"]
                instances = jobs.QUEUE_NAMES if "%i" in command else ("",)
                for instance in instances:
                    parse_ibcloud_arguments([word.replace("%i", instance) for word in arguments])
                    checked += 1
    assert checked >= 3  # migrate --check, worker --queue default, worker --queue crawl


def test_worker_options_shown_in_the_files_and_docs_are_real_worker_options():
    examples = documented_worker_options()
    assert examples
    for example in examples:
        parse_ibcloud_arguments(["worker", "--queue", "default", *shlex.split(example)])


def test_the_manage_wrapper_runs_ibcloud_with_the_services_environment():
    wrapper = UBUNTU / "ibcloud-manage"
    text = wrapper.read_text(encoding="utf-8")
    if os.name != "nt":  # git keeps the mode; Windows file systems have none to show
        assert wrapper.stat().st_mode & 0o111, "ibcloud-manage must be executable"
    assert ". /etc/ibcloud/ibcloud.env" in text
    assert "exec /opt/ibcloud/.venv/bin/ibcloud" in text


# --- gunicorn ----------------------------------------------------------------------------------


def gunicorn_settings() -> dict:
    namespace = runpy.run_path(str(UBUNTU / "gunicorn.conf.py"))
    return {
        key: value
        for key, value in namespace.items()
        if not key.startswith("_") and not hasattr(value, "__spec__")  # modules it imports
    }


def test_gunicorn_serves_the_wsgi_application_on_loopback():
    settings = gunicorn_settings()
    module, _, attribute = settings["wsgi_app"].partition(":")
    application = getattr(__import__(module, fromlist=[attribute]), attribute)
    assert callable(application)
    assert settings["bind"] == ["127.0.0.1:8000"]
    # nginx waits longer than gunicorn, so the client gets gunicorn's clean error, not a 504.
    nginx = (UBUNTU / "nginx-ibcloud.conf").read_text(encoding="utf-8")
    read_timeout = int(re.search(r"proxy_read_timeout (\d+)s;", nginx).group(1))
    assert settings["timeout"] < read_timeout


def test_gunicorn_settings_are_known_to_gunicorn():
    gunicorn_config = pytest.importorskip("gunicorn.config")
    known = {setting.name for setting in gunicorn_config.KNOWN_SETTINGS}
    assert sorted(set(gunicorn_settings()) - known) == []


# --- nginx -------------------------------------------------------------------------------------

NGINX_SITES = [UBUNTU / "nginx-ibcloud.conf", CLUSTER / "nginx-lb.conf"]


def nginx_text(path: Path) -> str:
    """The configuration without comments."""
    return "\n".join(
        line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()
    )


def location_block(text: str, prefix: str) -> str:
    match = re.search(r"location\s+(?:\^~\s+)?" + re.escape(prefix) + r"\s*\{([^}]*)\}", text)
    assert match, f"no location {prefix}"
    return match.group(1)


@pytest.mark.parametrize("site", NGINX_SITES, ids=lambda path: path.name)
def test_nginx_sites_proxy_to_an_upstream_with_retry(site):
    text = nginx_text(site)
    assert text.count("{") == text.count("}")
    upstream = re.search(r"upstream\s+ibcloud_app\s*\{([^}]*)\}", text)
    assert upstream and re.search(r"^\s*server\s+\S+:\d+", upstream.group(1), re.M)
    main = location_block(text, "/")
    assert "proxy_pass http://ibcloud_app;" in main
    assert re.search(r"proxy_next_upstream\s+error\s+timeout", main)
    # Retrying a POST that reached a server could apply it twice.
    assert "non_idempotent" not in text


def test_the_cluster_balances_over_several_app_servers():
    upstream = re.search(r"upstream\s+ibcloud_app\s*\{([^}]*)\}", nginx_text(NGINX_SITES[1]))
    assert len(re.findall(r"^\s*server\s+\S+:\d+", upstream.group(1), re.M)) >= 2


@pytest.mark.parametrize("site", NGINX_SITES, ids=lambda path: path.name)
def test_nginx_lets_the_largest_attachment_through_and_never_serves_uploads(site):
    from ibcloud.deals.attachments import MAX_ATTACHMENT_BYTES

    text = nginx_text(site)
    limit = re.search(r"client_max_body_size\s+(\d+)m;", text)
    assert limit and int(limit.group(1)) * 1024 * 1024 > MAX_ATTACHMENT_BYTES
    assert "return 404;" in location_block(text, "/media/")
    assert "alias" not in location_block(text, "/media/")


@pytest.mark.parametrize("site", NGINX_SITES, ids=lambda path: path.name)
def test_nginx_forwarding_matches_the_proxy_count_the_app_servers_trust(site):
    text = nginx_text(site)
    main = location_block(text, "/")
    # Each proxy appends one entry; the env files trust exactly one (IBCLOUD_PROXY_COUNT=1).
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in main
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in main
    assert "proxy_set_header Host $host;" in main
    for env_file in (UBUNTU / "ibcloud.env", CLUSTER / "ibcloud-cluster.env"):
        environment = read_env_file(env_file)
        assert environment["IBCLOUD_PROXY_COUNT"] == "1"
        assert environment["IBCLOUD_BEHIND_PROXY"]


def test_nginx_serves_static_files_from_static_root_of_the_configured_data_dir():
    static = location_block(nginx_text(UBUNTU / "nginx-ibcloud.conf"), "/static/")
    data_dir = read_env_file(UBUNTU / "ibcloud.env")["IBCLOUD_DATA_DIR"]
    # settings.STATIC_ROOT is <IBCLOUD_DATA_DIR>/static.
    assert f"alias {data_dir}/static/;" in static


@pytest.mark.parametrize("site", NGINX_SITES, ids=lambda path: path.name)
def test_nginx_loads_nothing_from_outside(site):
    # Bank intranets have no internet: the only URLs are the upstream and the HTTPS redirect.
    urls = set(re.findall(r"https?://[^\s;]+", nginx_text(site)))
    assert urls <= {"http://ibcloud_app", "https://$host$request_uri"}


# --- cluster examples --------------------------------------------------------------------------


def test_patroni_example_keeps_a_synchronous_replica_and_follows_etcd():
    config = yaml.safe_load((CLUSTER / "patroni.yml").read_text(encoding="utf-8"))
    assert config["scope"] and config["etcd3"]["hosts"]
    assert config["bootstrap"]["dcs"]["synchronous_mode"] is True
    assert config["restapi"]["listen"].endswith(":8008")


def test_haproxy_routes_the_app_to_the_primary_and_the_redis_master():
    text = (CLUSTER / "haproxy.cfg").read_text(encoding="utf-8")
    cluster_env = read_env_file(CLUSTER / "ibcloud-cluster.env")
    assert "bind 127.0.0.1:5000" in text and "@127.0.0.1:5000/" in cluster_env["DATABASE_URL"]
    assert "uri /primary" in text
    assert "bind 127.0.0.1:6379" in text and "@127.0.0.1:6379/" in cluster_env["REDIS_URL"]
    assert "role:master" in text


# --- Windows -----------------------------------------------------------------------------------


def test_powershell_scripts_are_ascii():
    # Windows PowerShell 5.1 reads a script without BOM in the ANSI code page: any non-ASCII
    # character could be misread and break the script on a Chinese-locale server.
    for script in WINDOWS.glob("*.ps1"):
        script.read_bytes().decode("ascii")


def test_windows_services_run_ibcloud_commands_and_options_that_exist():
    text = (WINDOWS / "install-services.ps1").read_text(encoding="utf-8")
    # PowerShell variables the arguments use, with their defaults from the param() block.
    defaults = dict(re.findall(r"\[(?:string|int)\]\s+\$(\w+)\s*=\s*'?([^'\s,)]+)'?", text))
    calls = re.findall(
        r"Install-IbcloudService\s+'([\w-]+)'\s+'[^']*'\s*`?\s*[\"']([^\"']+)[\"']", text
    )
    # The web server's arguments are built in two steps (the trusted proxy is optional).
    web = re.findall(r'\$webArguments \+?= "([^"]+)"', text)
    assert len(web) == 2, web
    defaults["TrustedProxy"] = "127.0.0.1"
    calls.append(("ibcloud-web", "".join(web)))
    assert {service for service, _ in calls} == {
        "ibcloud-web",
        "ibcloud-worker-default",
        "ibcloud-worker-crawl",
    }
    for _, arguments in calls:
        expanded = re.sub(r"\$(\w+)", lambda m: defaults[m.group(1)], arguments)
        parse_ibcloud_arguments(shlex.split(expanded))
    assert "ibcloud-web" in (WINDOWS / "uninstall-services.ps1").read_text(encoding="utf-8")
