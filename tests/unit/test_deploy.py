"""deploy/: the Kubernetes manifests, the image recipe and the entry script, checked offline.

- Every manifest document is validated against the Kubernetes OpenAPI schemas bundled in
  ``kubernetes-validate`` (strict: an unknown or misspelt field fails), for the oldest
  Kubernetes this project supports and the newest the package knows.
- Then what a schema cannot say: RBAC grants exactly list+watch on exactly what the
  speaker reads (taken from ryu_kovn.k8s.resources, so a new watch without RBAC fails
  here), the DaemonSet's host network, node selector, downward-API env, probes on the
  loopback REST port, resources and privileges, where the password lives.
- The Dockerfile installs as the README does (setuptools<67, --no-build-isolation,
  non-editable) and provides kube-ovn's /kube-ovn/kube-ovn-speaker.
- deploy/entrypoint.sh is run for real with ``sh``, with a ``ryu-manager`` stub on PATH that
  prints its arguments: these are tests of the entry script, not of the product. The
  --config-file list it produces is then parsed by oslo.config and ryu-kovn's validator.

Nothing here needs a cluster, a container engine or the network.
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from oslo_config import cfg

from ryu_kovn import config
from ryu_kovn.k8s import resources

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
MANIFESTS = ("speaker.yaml", "nat-gateway.yaml")
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
ENTRYPOINT = DEPLOY / "entrypoint.sh"

# The oldest Kubernetes the manifests must work on (status.podIPs in the downward API,
# seccompProfile fields and ClusterFirstWithHostNet are all older than this).
OLDEST_KUBERNETES = "1.29"

READ_ONLY_VERBS = ["list", "watch"]
PASSWORD = "md5-9c4e1f-entrypoint-unique"
# The image's /bin/sh is dash, as on this Debian; found here, not on the PATH a test sets.
SH = shutil.which("sh") or "/bin/sh"


# -- loading -------------------------------------------------------------------


def load_documents(name: str) -> list[dict[str, Any]]:
    with open(DEPLOY / name, encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


DOCUMENTS = [(name, doc) for name in MANIFESTS for doc in load_documents(name)]


def doc_id(item: tuple[str, dict[str, Any]]) -> str:
    name, doc = item
    return f"{name}:{doc['kind']}/{doc['metadata']['name']}"


def only(name: str, kind: str) -> dict[str, Any]:
    found = [doc for doc in load_documents(name) if doc["kind"] == kind]
    assert len(found) == 1, f"{name} should hold exactly one {kind}, found {len(found)}"
    return found[0]


def of_kind(name: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in load_documents(name) if doc["kind"] == kind]


def daemonset() -> dict[str, Any]:
    return only("speaker.yaml", "DaemonSet")


def pod_spec() -> dict[str, Any]:
    return daemonset()["spec"]["template"]["spec"]


def speaker_container() -> dict[str, Any]:
    containers = pod_spec()["containers"]
    assert len(containers) == 1, "the DaemonSet runs one container, the speaker"
    return containers[0]


def speaker_configmap() -> dict[str, Any]:
    return only("speaker.yaml", "ConfigMap")


def ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def main_conf() -> configparser.ConfigParser:
    return ini(speaker_configmap()["data"]["ryu_kovn.conf"])


def script_default(variable: str) -> str:
    """The default the entry script gives ``variable`` (``X=${X:-default}``)."""
    text = ENTRYPOINT.read_text()
    match = re.search(rf"^{variable}=\$\{{{variable}:-([^}}]+)\}}$", text, re.MULTILINE)
    assert match, f"entrypoint.sh sets no default for {variable}"
    return match.group(1)


# -- schemas -------------------------------------------------------------------


def _validator() -> Any:
    return pytest.importorskip(
        "kubernetes_validate",
        reason="kubernetes-validate is not installed (the schema checks need it; "
        "the semantic checks below still ran)",
    )


@pytest.mark.parametrize("version", [OLDEST_KUBERNETES, "latest"])
@pytest.mark.parametrize("item", DOCUMENTS, ids=[doc_id(item) for item in DOCUMENTS])
def test_manifest_matches_the_kubernetes_schema(
    item: tuple[str, dict[str, Any]], version: str
) -> None:
    validator = _validator()
    doc = item[1]
    if version == "latest":
        version = validator.latest_version()
    problem = None
    try:
        validator.validate(doc, version, strict=True)
    except validator.SchemaNotFoundError as err:
        pytest.skip(f"{doc_id(item)}: {err.message} (not a built-in kind; no schema offline)")
    except validator.ValidationError as err:
        where = "/".join(str(part) for part in err.absolute_path) or "(document)"
        problem = f"{doc_id(item)}, Kubernetes {version}, at {where}: {err.message}"
    if problem:  # outside the except: the schema dump of the chained error says nothing more
        pytest.fail(problem)


def test_schema_check_is_strict_enough_to_catch_a_misspelt_field() -> None:
    """A validator that accepts anything would make the test above worthless."""
    validator = _validator()
    broken = copy.deepcopy(daemonset())
    spec = broken["spec"]["template"]["spec"]
    spec["hostNetwrok"] = spec.pop("hostNetwork")
    with pytest.raises(validator.ValidationError):
        validator.validate(broken, OLDEST_KUBERNETES, strict=True)


def test_every_namespaced_object_says_its_namespace() -> None:
    """`kubectl apply -f` would otherwise put it in whatever namespace is current."""
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    for item in DOCUMENTS:
        _, doc = item
        if doc["kind"] in cluster_scoped:
            assert "namespace" not in doc["metadata"], doc_id(item)
        else:
            assert doc["metadata"].get("namespace") == "kube-system", doc_id(item)


# -- RBAC ------------------------------------------------------------------------


def granted(role: dict[str, Any]) -> set[tuple[str, str]]:
    """(apiGroup, resource) pairs of a role, checking every rule is list+watch only."""
    pairs = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, (
            f"{role['metadata']['name']}: a rule with resourceNames or nonResourceURLs: {rule}"
        )
        assert sorted(rule["verbs"]) == READ_ONLY_VERBS, (
            f"{role['metadata']['name']}: verbs must be exactly list and watch: {rule['verbs']}"
        )
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                assert "*" not in (group, resource), f"wildcard in {rule}"
                pairs.add((group, resource))
    return pairs


def test_every_role_in_deploy_is_read_only() -> None:
    roles = [doc for _, doc in DOCUMENTS if doc["kind"] in ("Role", "ClusterRole")]
    assert len(roles) == 2
    for role in roles:
        granted(role)


def test_speaker_role_is_exactly_what_the_speaker_watches() -> None:
    role = only("speaker.yaml", "ClusterRole")
    watched = {(r.group, r.plural) for r in (resources.PODS, resources.SERVICES, resources.SUBNETS)}
    assert granted(role) == watched
    assert watched == {("", "pods"), ("", "services"), ("kubeovn.io", "subnets")}


def test_nat_gateway_role_is_kube_ovns_and_covers_the_eips() -> None:
    role = only("nat-gateway.yaml", "ClusterRole")
    assert role["metadata"]["name"] == "system:vpc-nat-gw"
    assert granted(role) == {
        ("", "services"),
        ("", "pods"),
        ("kubeovn.io", "iptables-eips"),
        ("kubeovn.io", "subnets"),
        ("kubeovn.io", "vpc-nat-gateways"),
    }
    eips = resources.iptables_eips_for("gw1")
    assert (eips.group, eips.plural) in granted(role)


@pytest.mark.parametrize(
    ("name", "account"),
    [("speaker.yaml", "ryu-kovn-speaker"), ("nat-gateway.yaml", "vpc-nat-gw")],
)
def test_binding_gives_the_role_to_the_service_account(name: str, account: str) -> None:
    role = only(name, "ClusterRole")
    binding = only(name, "ClusterRoleBinding")
    service_account = only(name, "ServiceAccount")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert service_account["metadata"]["name"] == account
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": "kube-system"}
    ]


def test_daemonset_runs_under_its_own_service_account() -> None:
    assert pod_spec()["serviceAccountName"] == "ryu-kovn-speaker"


# -- the DaemonSet ----------------------------------------------------------------


def test_daemonset_is_placed_like_kube_ovns_speaker() -> None:
    assert daemonset()["metadata"]["namespace"] == "kube-system"
    spec = pod_spec()
    # The label value is the string "true": an unquoted YAML true would be refused.
    assert spec["nodeSelector"]["ovn.kubernetes.io/bgp"] == "true"
    assert spec["hostNetwork"] is True
    assert spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["priorityClassName"] == "system-node-critical"


def test_daemonset_env_comes_from_the_downward_api() -> None:
    env = {item["name"]: item for item in speaker_container()["env"]}
    expected = {"NODE_NAME": "spec.nodeName", "POD_IP": "status.podIP",
                "POD_IPS": "status.podIPs"}  # fmt: skip
    for name, field in expected.items():
        assert env[name] == {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field}}}


def test_rest_api_stays_on_loopback_and_the_probes_reach_it() -> None:
    conf = main_conf()["DEFAULT"]
    assert conf["wsapi_host"] == "127.0.0.1"
    port = int(conf["wsapi_port"])
    container = speaker_container()
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        http = container[probe]["httpGet"]
        # hostNetwork: the kubelet's 127.0.0.1 is the pod's loopback.
        assert http == {"host": "127.0.0.1", "port": port, "path": path, "scheme": "HTTP"}, probe
    assert not container.get("ports"), "nothing is served on the node's addresses"


def _mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    match = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity)
    assert match, f"memory quantity {quantity!r}: use Ki, Mi or Gi"
    return int(match.group(1)) * units[match.group(2)]


def test_daemonset_requests_and_limits() -> None:
    res = speaker_container()["resources"]
    assert set(res["requests"]) == {"cpu", "memory"}
    # Memory bounded; CPU deliberately not (throttling delays keepalives).
    assert set(res["limits"]) == {"memory"}
    assert _mebibytes(res["limits"]["memory"]) >= 2 * _mebibytes(res["requests"]["memory"])


def test_daemonset_runs_unprivileged() -> None:
    pod = pod_spec()["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert (pod["runAsUser"], pod["runAsGroup"]) == image_user()
    assert pod["fsGroup"] == pod["runAsGroup"]
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = speaker_container()["securityContext"]
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["allowPrivilegeEscalation"] is False
    assert container.get("privileged", False) is False
    assert container["readOnlyRootFilesystem"] is True


def test_daemonset_uses_the_images_entrypoint() -> None:
    """No `command`: tini and the entry script come from the image."""
    assert "command" not in speaker_container()


def test_nat_gateway_sidecar_uses_the_same_image() -> None:
    nat_config = only("nat-gateway.yaml", "ConfigMap")
    assert nat_config["metadata"] == {"name": "ovn-vpc-nat-config", "namespace": "kube-system"}
    data = nat_config["data"]
    assert data["bgpSpeakerImage"] == speaker_container()["image"]
    assert not data["bgpSpeakerImage"].endswith(":latest")
    # kube-ovn refuses a NAT gateway without its own image, and a BGP-enabled one
    # without apiNadProvider ("name.namespace.ovn").
    assert data["image"].startswith("docker.io/kubeovn/vpc-nat-gateway:")
    assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+\.ovn", data["apiNadProvider"])


# -- configuration and the password ---------------------------------------------------


def known_options() -> set[str]:
    return {opt.dest for opt in config.OPTS} | {"wsapi_host", "wsapi_port"}


def test_configmap_holds_only_config_files_with_known_options() -> None:
    """oslo.config ignores an unknown key silently: a typo would be a lost setting."""
    data = speaker_configmap()["data"]
    assert "ryu_kovn.conf" in data
    for key, text in data.items():
        assert key == "ryu_kovn.conf" or re.fullmatch(r"node-[a-z0-9.-]+\.conf", key), key
        parsed = ini(text)
        assert parsed.sections() == [], f"{key}: everything goes in [DEFAULT]"
        unknown = set(parsed.defaults()) - known_options()
        assert not unknown, f"{key}: unknown options {sorted(unknown)}"


def test_password_is_not_in_any_configmap() -> None:
    for _, doc in DOCUMENTS:
        if doc["kind"] != "ConfigMap":
            continue
        for key, text in doc.get("data", {}).items():
            assert not re.search(r"password|secret", key, re.IGNORECASE), key
            if key.endswith(".conf"):
                assert "auth_password" not in ini(text).defaults(), key


def test_no_secret_is_shipped_in_the_manifests() -> None:
    """The password Secret is created by the operator (deploy/README.md), never committed."""
    assert not [doc_id(item) for item in DOCUMENTS if item[1]["kind"] == "Secret"]


def test_volumes_are_where_the_entry_script_looks() -> None:
    mounts = {m["name"]: m for m in speaker_container()["volumeMounts"]}
    volumes = {v["name"]: v for v in pod_spec()["volumes"]}

    assert volumes["config"]["configMap"]["name"] == speaker_configmap()["metadata"]["name"]
    assert mounts["config"]["mountPath"] == script_default("CONFIG_DIR")
    assert mounts["config"]["readOnly"] is True

    secret = volumes["auth"]["secret"]
    assert secret["secretName"] == "ryu-kovn-speaker-auth"
    assert secret["optional"] is True  # no Secret: sessions without TCP MD5
    assert secret["defaultMode"] & 0o007 == 0, "the password file is not world readable"
    assert secret["defaultMode"] & 0o222 == 0
    assert secret["items"] == [{"key": "auth.conf", "path": "auth.conf"}]
    assert mounts["auth"]["readOnly"] is True
    assert f"{mounts['auth']['mountPath']}/auth.conf" == script_default("SECRET_FILE")

    # Separate trees: a volume nested in a ConfigMap volume is fragile.
    config_dir, secret_dir = mounts["config"]["mountPath"], mounts["auth"]["mountPath"]
    assert not secret_dir.startswith(config_dir + "/")
    assert not config_dir.startswith(secret_dir + "/")


# -- the Dockerfile ------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        keyword, _, rest = pending.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a continuation line"
    return instructions


def runs() -> str:
    return "\n".join(args for keyword, args in dockerfile() if keyword == "RUN")


def image_user() -> tuple[int, int]:
    users = [args for keyword, args in dockerfile() if keyword == "USER"]
    assert users, "the image must not run as root by default"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and group.isdigit(), "numeric USER, so runAsNonRoot can check it"
    assert int(user) != 0 and int(group) != 0
    return int(user), int(group)


def test_dockerfile_base_image() -> None:
    froms = [args for keyword, args in dockerfile() if keyword == "FROM"]
    assert froms == ["python:3.11-slim-bookworm"]


def test_dockerfile_installs_like_the_readme() -> None:
    commands = runs()
    assert "pip install 'setuptools<67' wheel" in commands
    install = re.search(r"PIP_CONSTRAINT=(\S+) pip install --no-build-isolation (\S+)", commands)
    assert install, "the project is installed with --no-build-isolation under the constraint"
    constraint, source = install.groups()
    assert constraint == "/src/constraints/build.txt"
    assert "setuptools<67" in (REPO / "constraints" / "build.txt").read_text()
    assert source == "/src", "from the copied tree, as a wheel"
    assert not re.search(r"pip install[^\n]*(\s-e\s|--editable)", commands), (
        "an editable install would leave ryu_kovn_startup.pth out of site-packages"
    )
    assert "python -c 'import ryu.app.wsgi'" in commands


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignored = DOCKERIGNORE.read_text().splitlines()
    assert "*" in ignored, "the dockerignore is an allow-list: everything else stays out"
    allowed = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    copies = [args for keyword, args in dockerfile() if keyword == "COPY"]
    assert copies
    for args in copies:
        parts = [p for p in args.split() if not p.startswith("--")]
        for source in parts[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
            assert source.rstrip("/") in allowed, f"COPY {source}: excluded by the dockerignore"


def test_image_provides_kube_ovns_speaker_command() -> None:
    link = re.search(r"ln -s (\S+) /kube-ovn/kube-ovn-speaker", runs())
    assert link, "/kube-ovn/kube-ovn-speaker must be ryu-kovn's drop-in command"
    target = link.group(1)
    venv = re.search(r"python3 -m venv (\S+)", runs())
    assert venv and target == f"{venv.group(1)}/bin/kube-ovn-speaker"
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(REPO / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"]
    assert re.search(r"^kube-ovn-speaker\s*=", scripts, re.MULTILINE), (
        "setup.cfg must declare the kube-ovn-speaker console script the link points at"
    )


def test_image_entrypoint_is_tini_then_the_entry_script() -> None:
    entrypoints = [args for keyword, args in dockerfile() if keyword == "ENTRYPOINT"]
    assert len(entrypoints) == 1
    argv = json.loads(entrypoints[0])
    assert argv[:2] == ["/usr/bin/tini", "--"]
    assert "apt-get install -y --no-install-recommends tini" in runs()
    copied = [args for keyword, args in dockerfile()
              if keyword == "COPY" and "deploy/entrypoint.sh" in args]  # fmt: skip
    assert len(copied) == 1 and copied[0].split()[-1] == argv[2]


# -- the entry script ----------------------------------------------------------------


def test_entry_script_is_posix_sh() -> None:
    text = ENTRYPOINT.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert re.search(r"^set -eu$", text, re.MULTILINE)
    assert os.access(ENTRYPOINT, os.X_OK)
    shells = [["sh", "-n"]]
    if shutil.which("dash"):
        shells.append(["dash", "-n"])
    if shutil.which("bash"):
        shells.append(["bash", "--posix", "-n"])
    for shell in shells:
        done = subprocess.run([*shell, str(ENTRYPOINT)], capture_output=True, text=True,
                              check=False)  # fmt: skip
        assert done.returncode == 0, f"{' '.join(shell)}: {done.stderr}"


class Layout:
    """A CONFIG_DIR, a SECRET_FILE and a PATH whose ryu-manager prints its arguments."""

    def __init__(self, root: Path) -> None:
        self.config_dir = root / "etc" / "ryu_kovn"
        self.config_dir.mkdir(parents=True)
        self.main = self.config_dir / "ryu_kovn.conf"
        self.main.write_text(speaker_configmap()["data"]["ryu_kovn.conf"])
        self.secret = root / "run" / "secrets" / "ryu_kovn" / "auth.conf"
        self.bin = root / "bin"
        self.bin.mkdir()
        stub = self.bin / "ryu-manager"
        stub.write_text('#!/bin/sh\nfor arg in "$@"; do printf \'%s\\n\' "$arg"; done\n')
        stub.chmod(0o755)

    def node_file(self, node: str, text: str = "[DEFAULT]\n") -> Path:
        path = self.config_dir / f"node-{node}.conf"
        path.write_text(text)
        return path

    def secret_file(self) -> Path:
        self.secret.parent.mkdir(parents=True, exist_ok=True)
        self.secret.write_text(f"[DEFAULT]\nauth_password = {PASSWORD}\n")
        return self.secret

    def run(self, *args: str, node: str | None = "node-a",
            path: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        env = {
            "PATH": path if path is not None else f"{self.bin}:/usr/bin:/bin",
            "CONFIG_DIR": str(self.config_dir),
            "SECRET_FILE": str(self.secret),
        }
        if node is not None:
            env["NODE_NAME"] = node
        return subprocess.run([SH, str(ENTRYPOINT), *args], env=env, capture_output=True,
                              text=True, timeout=30, check=False)  # fmt: skip

    def argv(self, *args: str, node: str | None = "node-a") -> list[str]:
        done = self.run(*args, node=node)
        assert done.returncode == 0, done.stderr
        assert PASSWORD not in done.stderr + done.stdout
        return done.stdout.splitlines()


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


def config_files(*paths: Path) -> list[str]:
    argv = ["ryu_kovn.app"]
    for path in paths:
        argv += ["--config-file", str(path)]
    return argv


@pytest.mark.parametrize("with_node", [False, True], ids=["no-node-file", "node-file"])
@pytest.mark.parametrize("with_secret", [False, True], ids=["no-secret", "secret"])
def test_entry_script_builds_the_config_file_list(
    layout: Layout, with_node: bool, with_secret: bool
) -> None:
    layout.node_file("node-b")  # another node's file is never read
    wanted = [layout.main]
    if with_node:
        wanted.append(layout.node_file("node-a"))
    if with_secret:
        wanted.append(layout.secret_file())
    assert layout.argv() == config_files(*wanted)


def test_entry_script_passes_container_arguments_last(layout: Layout) -> None:
    node = layout.node_file("node-a")
    secret = layout.secret_file()
    argv = layout.argv("--default-log-level", "10", "--wsapi-port", "18080")
    assert argv == [*config_files(layout.main, node, secret),
                    "--default-log-level", "10", "--wsapi-port", "18080"]  # fmt: skip


def test_entry_script_keeps_paths_with_spaces_whole(tmp_path: Path) -> None:
    layout = Layout(tmp_path / "with space")
    node = layout.node_file("node-a")
    assert layout.argv() == config_files(layout.main, node)


def test_entry_script_without_node_name_reads_the_shared_file(layout: Layout) -> None:
    layout.node_file("node-a")
    assert layout.argv(node=None) == config_files(layout.main)
    assert layout.argv(node="") == config_files(layout.main)


def test_entry_script_refuses_a_missing_main_file(layout: Layout) -> None:
    layout.main.unlink()
    done = layout.run()
    assert done.returncode == 2
    assert done.stdout == "", "ryu-manager must not be started"
    assert str(layout.main) in done.stderr and "ConfigMap" in done.stderr


def test_entry_script_refuses_an_unusable_secret_path(layout: Layout) -> None:
    layout.secret.mkdir(parents=True)  # a directory where the file should be
    done = layout.run()
    assert done.returncode == 2 and done.stdout == ""
    assert f"secret config file {layout.secret} exists but is not a regular file" in done.stderr


def test_entry_script_refuses_a_node_name_that_is_a_path(layout: Layout) -> None:
    done = layout.run(node="../secrets")
    assert done.returncode == 2 and done.stdout == ""
    assert "is not a Kubernetes node name" in done.stderr


def test_entry_script_says_when_ryu_manager_is_missing(layout: Layout, tmp_path: Path) -> None:
    tools = tmp_path / "tools"  # what the script uses besides sh builtins, and no ryu-manager
    tools.mkdir()
    for tool in ("grep", "id"):
        found = shutil.which(tool)
        assert found, f"{tool} is needed by the entry script"
        (tools / tool).symlink_to(found)
    done = layout.run(path=str(tools))
    assert done.returncode == 2
    assert "ryu-manager is not on PATH" in done.stderr


def test_entry_script_warns_of_a_password_in_the_configmap_without_printing_it(
    layout: Layout,
) -> None:
    layout.node_file("node-a", f"[DEFAULT]\nauth_password = {PASSWORD}\n")
    done = layout.run()
    assert done.returncode == 0
    assert "auth_password is set in" in done.stderr and "move it to the Secret" in done.stderr
    assert PASSWORD not in done.stderr


def test_config_files_merge_as_documented(layout: Layout) -> None:
    """The real thing after the stub: oslo.config reads the list, later files win."""
    layout.node_file("node-a", "[DEFAULT]\nneighbor_address = 198.51.100.1\nholdtime = 1m\n")
    layout.secret_file()
    argv = layout.argv()
    assert argv[0] == "ryu_kovn.app"
    conf = cfg.ConfigOpts()
    conf(args=argv[1:], default_config_files=[], default_config_dirs=[])
    config.apply_ryu_defaults(conf)
    settings = config.validate(conf, env={"NODE_NAME": "node-a",
                                          "POD_IPS": "192.0.2.10,2001:db8::10"})  # fmt: skip
    shared = main_conf()["DEFAULT"]
    assert settings.cluster_as == int(shared["cluster_as"])  # from ryu_kovn.conf
    assert settings.neighbors_v4 == ("198.51.100.1",)  # the node file won
    assert settings.holdtime == 60
    assert settings.auth_password is not None
    assert settings.auth_password.reveal() == PASSWORD  # from the Secret's file
    assert settings.router_id == "192.0.2.10"  # the node's IPv4, from POD_IPS
    assert settings.node_name == "node-a"
    assert conf.wsapi_host == "127.0.0.1"
    assert conf.wsapi_port == int(shared["wsapi_port"])
