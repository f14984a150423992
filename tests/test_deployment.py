"""docker-compose.yml cannot run here (no Docker), so its promises are checked instead."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from typer.main import get_command

from service.backlog import Backlog, families
from service.cli.main import app
from service.config import MIN_PRODUCTION_TOKEN, Settings
from service.models.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_postgresql_web_and_worker() -> None:
    assert {"db", "web", "worker", "migrate"} <= set(COMPOSE["services"])
    assert COMPOSE["services"]["db"]["image"].startswith("postgres:")


def test_every_service_runs_a_real_copline_command_with_real_options() -> None:
    cli = get_command(app)
    for name, service in COMPOSE["services"].items():
        command = service.get("command")
        if not command or "build" not in service:
            continue  # Prometheus, the proxy: others' images
        assert "image" not in service, name
        assert command[0] == "copline", name
        sub = cli.commands[command[1]]  # type: ignore[attr-defined]
        options = {opt for param in sub.params for opt in param.opts + param.secondary_opts}
        for word in command[2:]:
            if word.startswith("--"):
                assert word in options, f"{name}: {word} is not an option of copline {command[1]}"


def test_every_copline_variable_in_compose_is_a_setting() -> None:
    fields = {f"COPLINE_{name.upper()}" for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            if variable.startswith("COPLINE_"):
                assert variable in fields, f"{name}: {variable} is not a copline setting"


def test_blank_variables_from_compose_mean_unset() -> None:
    settings = Settings(at_api_key="", at_base_url="", database_read_url="", _env_file=None)
    assert settings.at_api_key is None and settings.uses_at_simulator
    assert settings.at_base_url == "http://127.0.0.1:8790"
    assert settings.database_read_url is None  # reports stay on the primary


def test_the_compose_database_url_gets_the_async_driver() -> None:
    url = COMPOSE["x-copline-env"]["COPLINE_DATABASE_URL"]
    assert Settings(database_url=url, _env_file=None).database_url.startswith(
        "postgresql+asyncpg://"
    )


def test_compose_web_instances_never_start_a_simulator() -> None:
    env = COMPOSE["x-copline-env"]
    settings = Settings(at_simulator=env["COPLINE_AT_SIMULATOR"], _env_file=None)
    assert not settings.runs_simulator_in_process
    assert "simulator" in COMPOSE["services"]["at-sim"]["profiles"]  # only when asked


def test_the_simulator_starts_in_process_only_without_a_key_on_this_machine() -> None:
    assert Settings(_env_file=None).runs_simulator_in_process
    assert not Settings(at_api_key="secret", _env_file=None).runs_simulator_in_process
    assert not Settings(at_base_url="http://at-sim:8790", _env_file=None).runs_simulator_in_process


def test_compose_in_production_requires_a_callback_token_that_production_accepts() -> None:
    env = COMPOSE["x-copline-env"]
    assert env["COPLINE_ENVIRONMENT"] == "production"
    # Required from the operator's environment, never a literal (a shared, known secret),
    # and the message says what production will accept.
    for name in ("COPLINE_CALLBACK_TOKEN", "COPLINE_SECRET_KEY"):
        required = re.fullmatch(rf"\$\{{{name}:\?(.+)\}}", env[name])
        assert required is not None and "32+ characters" in required.group(1)
    settings = Settings(
        environment=env["COPLINE_ENVIRONMENT"],
        callback_token="t" * MIN_PRODUCTION_TOKEN,
        secret_key="s" * MIN_PRODUCTION_TOKEN,
        graphiql=env["COPLINE_GRAPHIQL"],
        graphql_introspection=env["COPLINE_GRAPHQL_INTROSPECTION"],
        graphql_suggestions=env["COPLINE_GRAPHQL_SUGGESTIONS"],
        _env_file=None,
    )
    assert settings.production_refusal() is None
    assert not (settings.serves_graphiql or settings.allows_introspection)
    assert not settings.suggests_fields


# --- The compose file's references, the proxy, Prometheus and Grafana (deploy/) -------

DEPLOY = ROOT / "deploy"
PROMETHEUS = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
ALERTS = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana" / "copline.json").read_text())
CADDYFILE = (DEPLOY / "caddy" / "Caddyfile").read_text()
METRIC = re.compile(r"\bcopline_[a-z0-9_]+\b")


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_service_volume_and_mounted_file_the_compose_file_names_exists() -> None:
    services = COMPOSE["services"]
    volumes = set(COMPOSE.get("volumes") or {})
    for name, service in services.items():
        depends = service.get("depends_on", [])
        for other in depends if isinstance(depends, list) else depends.keys():
            assert other in services, f"{name} depends on {other}, which is not a service"
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not here"
            else:
                assert source in volumes, f"{name} uses volume {source}, which is not declared"


def test_two_web_instances_behind_one_public_proxy_that_keeps_metrics_private() -> None:
    services = COMPOSE["services"]
    webs = [n for n, s in services.items() if (s.get("command") or [None, None])[1] == "serve"]
    assert len(webs) >= 2
    for name in webs:
        assert "ports" not in services[name], f"{name} is reached through the proxy only"
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert "8000:8000" in services["proxy"]["ports"] and published.count("8000:8000") == 1
    upstream = re.search(r"reverse_proxy ([^{]+)\{", CADDYFILE)
    assert upstream is not None
    for target in upstream.group(1).split():
        host, port = target.rsplit(":", 1)
        assert host in webs and _option(services[host]["command"], "--port") == port
    assert "respond @metrics 404" in CADDYFILE and "health_uri /healthz" in CADDYFILE
    # The simulator and links go to the public face, not to one instance.
    assert COMPOSE["x-copline-env"]["COPLINE_PUBLIC_URL"].endswith("proxy:8000}")


def test_prometheus_scrapes_every_web_instance_and_the_workers_where_they_listen() -> None:
    services = COMPOSE["services"]
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    targets = {t for c in jobs["copline-web"]["static_configs"] for t in c["targets"]}
    webs = {n for n, s in services.items() if (s.get("command") or [None, None])[1] == "serve"}
    assert {t.rsplit(":", 1)[0] for t in targets} == webs
    for target in targets:
        host, port = target.rsplit(":", 1)
        assert _option(services[host]["command"], "--port") == port
    [workers] = jobs["copline-worker"]["dns_sd_configs"]
    [name] = workers["names"]
    command = services[name]["command"]
    assert command[1] == "worker"
    assert _option(command, "--metrics-port") == str(workers["port"])
    assert _option(command, "--metrics-host") == "0.0.0.0"
    assert PROMETHEUS["rule_files"] == ["alerts.yml"]
    prometheus = services["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]


def test_the_alerts_named_in_the_issue_each_wait_a_while_and_say_what_to_do() -> None:
    rules = {rule["alert"]: rule for group in ALERTS["groups"] for rule in group["rules"]}
    assert {"CoplineOutboxStuck", "CoplineSendFailureShare", "CoplineUssdHopSlow"} <= set(rules)
    assert "> 600" in rules["CoplineOutboxStuck"]["expr"]  # ten minutes
    assert "histogram_quantile(0.99" in rules["CoplineUssdHopSlow"]["expr"]
    assert ") > 1" in rules["CoplineUssdHopSlow"]["expr"]
    for name, rule in rules.items():
        assert re.fullmatch(r"\d+m", rule["for"]), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_the_dashboard_reads_its_prometheus_from_a_variable() -> None:
    [variable] = DASHBOARD["templating"]["list"]
    assert (variable["name"], variable["type"], variable["query"]) == (
        "datasource",
        "datasource",
        "prometheus",
    )
    panels = [p for p in DASHBOARD["panels"] if p["type"] != "row"]
    assert len(panels) >= 12
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def _expressions() -> dict[str, str]:
    found = {
        f"alert {rule['alert']}": rule["expr"]
        for group in ALERTS["groups"]
        for rule in group["rules"]
    }
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            found[f"panel {panel['title']} {target['refId']}"] = target["expr"]
    return found


async def test_alerts_and_dashboard_name_only_metrics_a_real_scrape_exports(
    client: httpx.AsyncClient,
) -> None:
    scrape = (await client.get("/metrics")).text
    exported: set[str] = set()
    for line in scrape.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            suffixes = ("_bucket", "_count", "_sum") if kind == "histogram" else ("",)
            exported |= {name + suffix for suffix in suffixes}
    # The webhook queue's figures, where its table exists (not in this branch's schema).
    exported |= {m.name for m in families(Backlog(at=utcnow(), webhooks=(0, None)), 0.0)}
    assert "copline_outbox_oldest_due_age_seconds" in scrape  # the backlog was read
    for where, expr in _expressions().items():
        for name in METRIC.findall(expr):
            assert name in exported, f"{where}: {name} is not exported"
    # And every metric copline defines is on the dashboard.
    shown = {n for expr in _expressions().values() for n in METRIC.findall(expr)}
    for name in exported:
        if not name.startswith("copline_") or name.endswith("_created"):
            continue
        base = re.sub(r"_(bucket|count|sum)$", "", name)
        assert name in shown or base + "_bucket" in shown or base + "_count" in shown, name


@pytest.mark.parametrize(
    "command",
    [
        ["check", "config", "prometheus.yml"],  # and the rule files it loads
        # Each alert fires on the series that should raise it, and not on healthy ones.
        ["test", "rules", "alerts_test.yml"],
    ],
)
def test_promtool_accepts_the_configuration_and_the_alerts_fire_when_they_should(
    command: list[str],
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    checked = subprocess.run(
        [promtool, *command], cwd=DEPLOY / "prometheus", capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
