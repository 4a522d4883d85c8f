"""Build the stand-in images of the packaged stack into localkube, one per image reference.

No image can be pulled on a machine without a container engine and registry, so each image
the packaged manifests name is built locally with ``localkube image build`` and tagged with
that exact reference: the packaged stack then runs unchanged, with no image overrides. One more
image is this project's own: the runner ``--floe-in-cluster`` runs the tests on. Each
stand-in holds the real program and keeps the official image's contract (entrypoint, args,
user, paths, env) as far as the manifests rely on it; see ``tests/images/README.md``.

The references come from the packaged manifests themselves and from the example charts
(``examples/own-stack``, rendered with its values-test.yaml), so a changed pin rebuilds and an
image without a recipe fails here, naming it. Every step is cached (Go binaries and the
Maven jars under ``$FLOE_IMAGE_CACHE``, images by localkube): a second run takes seconds.

    python tests/images/build.py [--localkube PATH] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from floe_testing.cluster.manifests import images
from floe_testing.cluster.sources import load_manifests
from floe_testing.stack import PACKAGED_MANIFESTS

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = Path(os.environ.get("FLOE_IMAGE_CACHE", "/var/cache/floe-testing"))
STEP_TIMEOUT = 1800  # seconds; the cold Go and Maven builds take minutes, never half an hour

#: Go module versions of the real MinIO programs. The module proxy serves no semver tags for
#: them and refuses the pseudo-versions of the release tags the manifests pin (403), so these
#: are the closest versions it serves (see tests/images/README.md).
MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
MC_MODULE = "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9"
#: Jaeger's v2 binary (``cmd/jaeger``, the image ``jaegertracing/jaeger``): Go module version
#: by image tag (Jaeger releases v1.x and v2.x together: v1.75.0 is v2.12.0). Its go.mod has a
#: replace directive, so ``go install`` refuses it: it is built as a tool of a module of ours.
JAEGER_MODULES = {"2.12.0": "github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0"}
#: Apache Iceberg's REST catalog server (one runnable jar), the catalog behind the Polaris
#: stand-in
ICEBERG_REST = "org.apache.iceberg:iceberg-open-api:1.10.1"


def normalise(reference: str) -> str:
    """Docker's normal form, which the kubelet looks up: ``postgres:16.4`` is
    ``docker.io/library/postgres:16.4``; a reference pinned by digest is looked up by digest
    alone (``repo:tag@sha256:D`` is ``repo@sha256:D``), so that is the name a stand-in gets."""
    name, at, digest = reference.partition("@")
    if at:
        return f"{normalise(repository(name))}@{digest}"
    first = reference.split("/", 1)[0]
    if "/" not in reference:
        return f"docker.io/library/{reference}"
    if "." in first or ":" in first or first == "localhost":
        return reference
    return f"docker.io/{reference}"


def repository(reference: str) -> str:
    """The reference without its tag or digest."""
    name = reference.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def tag(reference: str) -> str:
    return reference.split("@", 1)[0].rpartition(":")[2]


@dataclass
class Builder:
    """Runs the steps, one progress line each, output kept for a failure's tail."""

    localkube: Path
    logs: Path

    def run(self, what: str, argv: Sequence[str], *, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> None:
        start = time.monotonic()
        log = self.logs / (what.replace(" ", "-").replace("/", "_") + ".log")
        with log.open("w") as out:
            try:
                done = subprocess.run(list(argv), cwd=cwd, env={**os.environ, **(env or {})},
                                      stdout=out, stderr=subprocess.STDOUT, check=False,
                                      timeout=STEP_TIMEOUT)
                code = done.returncode
            except subprocess.TimeoutExpired:
                code = -1
        seconds = time.monotonic() - start
        if code != 0:
            tail = log.read_text(errors="replace").splitlines()[-25:]
            print(f"images: {what} FAILED after {seconds:.1f}s (exit {code}); log {log}:",
                  *("  | " + line for line in tail), sep="\n", file=sys.stderr)
            raise SystemExit(1)
        print(f"images: {what} ({seconds:.1f}s)", flush=True)

    def image(self, what: str, *args: str) -> None:
        self.run(what, [str(self.localkube), "image", "build", *args])

    def go_binary(self, module: str, name: str) -> Path:
        """``go install`` of a real program from the Go module proxy (static, cached)."""
        target = CACHE / "go" / module.replace("/", "_").replace("@", "-")
        binary = target / name
        if not binary.is_file():
            self.run(f"go install {module}", ["go", "install", module],
                     env={"GOBIN": str(target), "CGO_ENABLED": "0"})
        return binary

    def go_tool(self, module: str, name: str) -> Path:
        """A program whose module ``go install`` refuses (a replace directive): added with
        ``go get -tool`` to a module of ours and built from there (static, cached)."""
        target = CACHE / "go-tools" / module.rpartition("/")[2].replace("@", "-")
        binary = target / name
        if not binary.is_file():
            target.mkdir(parents=True, exist_ok=True)
            env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
            if not (target / "go.mod").is_file():
                self.run(f"go mod init for {module}", ["go", "mod", "init",
                                                       "floe-testing.local/tool-build"],
                         cwd=target, env=env)
            self.run(f"go get -tool {module}", ["go", "get", "-tool", module], cwd=target,
                     env=env)
            self.run(f"go build {module}", ["go", "build", "-o", f"{name}.tmp",
                                            module.partition("@")[0]], cwd=target, env=env)
            (target / f"{name}.tmp").rename(binary)
        return binary

    def maven_jar(self, artifact: str) -> Path:
        """One jar from Maven Central (``group:artifact:version``), cached."""
        _, name, version = artifact.split(":")
        target = CACHE / "maven"
        jar = target / f"{name}-{version}.jar"
        if not jar.is_file():
            self.run(f"mvn dependency:copy {artifact}",
                     ["mvn", "-B", "-q", "dependency:copy", f"-Dartifact={artifact}",
                      f"-DoutputDirectory={target}"])
        return jar


# -- recipes: repository -> how to build its stand-in ------------------------------------------


def postgres(b: Builder, ref: str) -> None:
    # localkube's PostgreSQL image: the official image's env contract (POSTGRES_*, PGDATA,
    # /docker-entrypoint-initdb.d), PostgreSQL 15 from Debian whatever the tag says
    b.image(f"postgres {ref}", "postgres", "--tag", ref)


def python(b: Builder, ref: str) -> None:
    # Debian's Python 3.11 with `python` on PATH: enough for the stdlib-only Polaris bootstrap
    b.image(f"python {ref}", "python", "--tag", ref)


#: What the official ``dagster/dagster-celery-k8s`` image installs (dagster-io/dagster,
#: python_modules/automation/automation/docker/images/dagster-celery-k8s/Dockerfile): these
#: packages at the image's release, nothing else pinned. Its libraries release in lock-step
#: (1.13.25 <-> 0.29.25).
DAGSTER_IMAGE_CORE = ("dagster", "dagster-graphql", "dagster-webserver")
DAGSTER_IMAGE_LIBRARIES = ("dagster-azure", "dagster-postgres", "dagster-k8s", "dagster-aws",
                           "dagster-celery[flower,redis,kubernetes]", "dagster-celery-k8s",
                           "dagster-gcp")


def dagster(b: Builder, ref: str) -> None:
    # The official image's dependency set at its release, SQLAlchemy unbounded as upstream
    # (2.1 since 2026-09-24: the image of 2026-10-01 carries it; the stack's dagster.yaml names
    # the psycopg2 driver, which 2.1 no longer picks for postgresql:// URLs)
    version = tag(ref)
    _, minor, patch = version.split(".")
    libs = f"0.{int(minor) + 16}.{patch}"
    pins = [f"{name}=={version}" for name in DAGSTER_IMAGE_CORE]
    pins += [f"{name}=={libs}" for name in DAGSTER_IMAGE_LIBRARIES]
    b.image(f"dagster {ref}", "python", "--tag", ref, *(a for p in pins for a in ("--pip", p)))


#: The official MinIO image's environment (minio/minio Dockerfile.release at the pinned
#: release): secret files it would read (absent here: ignored), mc's config directory
MINIO_IMAGE_ENV = ("MINIO_ACCESS_KEY_FILE=access_key", "MINIO_SECRET_KEY_FILE=secret_key",
                   "MINIO_ROOT_USER_FILE=access_key", "MINIO_ROOT_PASSWORD_FILE=secret_key",
                   "MINIO_KMS_SECRET_KEY_FILE=kms_master_key",
                   "MINIO_CONFIG_ENV_FILE=config.env", "MC_CONFIG_DIR=/tmp/.mc")


def minio(b: Builder, ref: str) -> None:
    # the official image: minio and mc in /usr/bin, its entrypoint script, its env, port 9000
    binary = b.go_binary(MINIO_MODULE, "minio")
    client = b.go_binary(MC_MODULE, "mc")
    b.image(f"minio {ref}", "python", "--tag", ref,
            "--add", f"{binary}:/usr/bin/minio", "--add", f"{client}:/usr/bin/mc",
            "--add", f"{HERE / 'minio' / 'docker-entrypoint.sh'}:/usr/bin/docker-entrypoint.sh",
            *(a for env in MINIO_IMAGE_ENV for a in ("--env", env)),
            "--entrypoint", '["/usr/bin/docker-entrypoint.sh"]', "--cmd", '["minio"]',
            "--expose", "9000")


def mc(b: Builder, ref: str) -> None:
    # the official image: mc in /usr/bin, entrypoint ["mc"], no env of its own
    binary = b.go_binary(MC_MODULE, "mc")
    b.image(f"mc {ref}", "python", "--tag", ref, "--add", f"{binary}:/usr/bin/mc",
            "--entrypoint", '["mc"]')


def polaris(b: Builder, ref: str) -> None:
    # Polaris cannot be assembled from Maven Central (its modules are not served there): the
    # real Iceberg REST catalog server behind Polaris' API, auth, management and health
    # contract (polaris/polaris_standin.py; see README.md)
    jar = b.maven_jar(ICEBERG_REST)
    b.image(f"polaris {ref}", "python", "--tag", ref,
            "--add", f"{java_home()}:/opt/java/openjdk",
            "--add", f"{jar}:/opt/iceberg-rest/iceberg-open-api.jar",
            "--add", f"{HERE / 'polaris' / 'polaris_standin.py'}:/opt/polaris/polaris_standin.py",
            # the official image's user and home (runtime/server/src/main/docker/Dockerfile.jvm)
            "--run", "groupadd --gid 10001 polaris && useradd --uid 10000 --gid polaris "
                     "--home-dir /home/polaris --create-home polaris",
            "--env", "ICEBERG_REST_JAR=/opt/iceberg-rest/iceberg-open-api.jar",
            "--env", "JAVA_HOME=/opt/java/openjdk",
            "--env", "USER=polaris", "--env", "UID=10000", "--env", "HOME=/home/polaris",
            "--env", "PATH=/opt/java/openjdk/bin:/opt/venv/bin:/usr/local/sbin:/usr/local/bin:"
                     "/usr/sbin:/usr/bin:/sbin:/bin",
            "--workdir", "/home/polaris", "--user", "10000",
            "--entrypoint", '["python3", "/opt/polaris/polaris_standin.py"]',
            "--expose", "8181", "--expose", "8182")


def jaeger(b: Builder, ref: str) -> None:
    # the real Jaeger v2 (all-in-one with in-memory storage when given no config), as the
    # official image runs it: /cmd/jaeger/jaeger-linux, listening on all interfaces, uid 10001
    module = JAEGER_MODULES.get(tag(ref))
    if module is None:
        raise SystemExit(f"images: no Jaeger module version known for {ref}; add its tag to "
                         "JAEGER_MODULES (the release notes pair v1.x with v2.x)")
    binary = b.go_tool(module, "jaeger")
    b.image(f"jaeger {ref}", "python", "--tag", ref,
            "--add", f"{binary}:/cmd/jaeger/jaeger-linux",
            "--env", "JAEGER_LISTEN_HOST=0.0.0.0", "--user", "10001",
            "--entrypoint", '["/cmd/jaeger/jaeger-linux"]',
            "--expose", "16686", "--expose", "4317", "--expose", "4318", "--expose", "13133")


def redis(b: Builder, ref: str) -> None:
    # Debian's redis-server (bookworm: 7.0.15) behind the official image's entrypoint (its
    # arguments are redis-server's), run as the image's redis user (uid 999) in /data
    version = tag(ref)
    if version != "7.0.15":
        raise SystemExit(f"images: {ref}: the stand-in is Debian bookworm's redis-server 7.0.15;"
                         " pin that tag in the manifest")
    b.image(f"redis {ref}", "python", "--tag", ref, "--apt", "redis-server",
            "--add", f"{HERE / 'redis' / 'docker-entrypoint.sh'}:/usr/local/bin/"
                     "docker-entrypoint.sh",
            "--run", "usermod -u 999 redis && groupmod -g 999 redis && mkdir -p /data && "
                     "chown redis:redis /data",
            "--user", "999", "--workdir", "/data",
            "--entrypoint", '["docker-entrypoint.sh"]', "--cmd", '["redis-server"]',
            "--expose", "6379")


def java_home() -> Path:
    """A self-contained JDK of this machine to copy into the image (Debian's JRE package does
    not install into the image's minimal root: its man-page links fail)."""
    for candidate in (os.environ.get("FLOE_JAVA_HOME"), "/usr/lib/jvm/temurin-25-jdk-amd64",
                      "/usr/lib/jvm/java-17-openjdk-amd64"):
        if candidate and (Path(candidate) / "bin" / "java").is_file():
            return Path(candidate).resolve()
    raise SystemExit("images: no JDK found for the catalog server; set FLOE_JAVA_HOME")


#: the image ``--floe-in-cluster`` runs the tests on (the stack tier, the examples in CI)
RUNNER_IMAGE = "localhost/floe-testing/runner:dev"
#: what the runner pins to this venv's versions, so the pods run what the host tests with
RUNNER_PINS = ("pytest", "redis", "pyiceberg", "pyarrow", "duckdb", "dagster", "dagster-graphql",
               "dagster-pipes", "dagster-shared", "minio", "psycopg2-binary", "pydantic",
               "pydantic-core", "pydantic-settings", "pykube-ng", "tenacity", "pytest-kind",
               "sqlalchemy")


def runner(b: Builder, ref: str) -> None:
    """floe-testing from this checkout with every client extra (what the examples import),
    the libraries at this venv's versions. The source snapshot is rewritten only when it
    changed, and localkube caches by content: an unchanged checkout rebuilds nothing."""
    from importlib.metadata import version

    snapshot = CACHE / "runner-source"
    staged = CACHE / "runner-source.new"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy2(REPO / name, staged / name)
    shutil.copytree(REPO / "src", staged / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
    if _tree_digest(staged) != _tree_digest(snapshot):
        shutil.rmtree(snapshot, ignore_errors=True)
        staged.rename(snapshot)
    else:
        shutil.rmtree(staged)
    pins = [arg for name in RUNNER_PINS for arg in ("--pip", f"{name}=={version(name)}")]
    b.image(f"runner {ref}", "python", "--tag", ref,
            "--add", f"{snapshot}:/opt/floe-testing", "--pip", "/opt/floe-testing[all]", *pins)


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


RECIPES: dict[str, Callable[[Builder, str], None]] = {
    "docker.io/library/postgres": postgres,
    "docker.io/library/python": python,
    "docker.io/dagster/dagster-celery-k8s": dagster,
    "quay.io/minio/minio": minio,
    "quay.io/minio/mc": mc,
    "docker.io/apache/polaris": polaris,
    "docker.io/jaegertracing/jaeger": jaeger,
    "docker.io/library/redis": redis,
}
#: the example project whose own chart is its stack; its images are built too
OWN_STACK = REPO / "examples" / "own-stack" / "charts" / "floe-platform"
#: the example suite's own components beside the packaged stack (its Redis)
EXAMPLE_COMPONENTS = REPO / "examples" / "stack"


def stack_images() -> list[str]:
    """Every image the packaged manifests and the example chart (rendered with helm, its
    values-test.yaml, hooks and tests included) name, normalised, in first-seen order."""
    from floe_testing.cluster.charts import ChartValues, RenderSettings

    render = RenderSettings("floe-test", values={"floe-platform": ChartValues(
        (OWN_STACK / "values-test.yaml",))})
    found: dict[str, None] = {}
    for doc in (load_manifests(PACKAGED_MANIFESTS) + load_manifests(EXAMPLE_COMPONENTS)
                + load_manifests(OWN_STACK, render)):
        for ref in images(doc.obj):
            found.setdefault(normalise(ref), None)
    return list(found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_localkube = Path(os.environ.get("FLOE_LOCALKUBE",
                                            REPO.parent / "shared" / "localkube"))
    parser.add_argument("--localkube", type=Path, default=default_localkube,
                        help="localkube's directory (env FLOE_LOCALKUBE; default "
                             "../shared/localkube)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="build only these (recipe names: postgres, python, dagster, minio, "
                             "mc, polaris, jaeger, runner)")
    args = parser.parse_args(argv)
    localkube = args.localkube / "localkube"
    if not localkube.is_file():
        parser.error(f"localkube not found at {localkube}: set FLOE_LOCALKUBE or --localkube")
    logs = CACHE / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    builder = Builder(localkube, logs)
    refs = stack_images()
    unknown = [ref for ref in refs if repository(ref) not in RECIPES]
    if unknown:
        print(f"images: no recipe for {unknown} (named by the packaged manifests); add one to "
              f"{Path(__file__).relative_to(REPO)}", file=sys.stderr)
        return 1
    for ref in refs:
        recipe = RECIPES[repository(ref)]
        if args.only is None or recipe.__name__ in args.only:
            recipe(builder, ref)
    if args.only is None or "runner" in args.only:
        runner(builder, RUNNER_IMAGE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
