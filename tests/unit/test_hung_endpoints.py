"""A server that accepts connections and never answers (``tcp_listener``: the kernel completes
the handshake, nobody reads) must fail the test within the client timeouts, on one screen
naming the service, the address, where that address came from and what to check; a closed
port must fail too. Nothing may hang: each inner run has a hard limit of its own."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.unit

#: The bounds the inner runs use (FLOE_CONNECT_TIMEOUT / FLOE_READ_TIMEOUT)
CONNECT, READ = 1, 2
#: Generous, and still far below "hangs": the inner run must be done well within it
LIMIT = 20.0

CASES = {
    "minio": ("def test_it(minio_client):\n    raise AssertionError('must not be reached')\n",
              {"MINIO_ENDPOINT": "http://127.0.0.1:{port}", "MINIO_SECRET_KEY": "k3y-S3CR3T"},
              ["S3 (MinIO", "http://127.0.0.1:{port}", "address from env MINIO_ENDPOINT",
               "MINIO_ENDPOINT"]),
    "polaris": ("def test_it(polaris_catalog):\n    raise AssertionError('must not be reached')\n",
                {"POLARIS_URI": "http://127.0.0.1:{port}/api/catalog",
                 "POLARIS_CREDENTIAL": "root:p0l-S3CR3T"},
                ["Iceberg REST catalog", "http://127.0.0.1:{port}/api/catalog",
                 "address from env POLARIS_URI", "POLARIS_URI"]),
    "dagster": ("def test_it(dagster_client):\n    raise AssertionError('must not be reached')\n",
                {"DAGSTER_HOST": "127.0.0.1", "DAGSTER_PORT": "{port}"},
                ["Dagster webserver", "http://127.0.0.1:{port}", "address from env DAGSTER_HOST",
                 "DAGSTER_PORT"]),
    "postgres": ("def test_it(postgres_connection):\n    raise AssertionError('must not be "
                 "reached')\n",
                 {"POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": "{port}",
                  "POSTGRES_PASSWORD": "pg-S3CR3T"},
                 ["PostgreSQL", "127.0.0.1:{port}", "address from env POSTGRES_HOST",
                  "POSTGRES_PORT"]),
}


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, service: str,
         port: int) -> tuple[str, float]:
    source, env, _ = CASES[service]
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(port=port))
    monkeypatch.setenv("FLOE_CONNECT_TIMEOUT", str(CONNECT))
    monkeypatch.setenv("FLOE_READ_TIMEOUT", str(READ))
    pytester.makepyfile(test_hung=source)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}",
                                           timeout=LIMIT)
    # the test's own time (setup, where the fixture fails), not the interpreter's start-up,
    # which a loaded machine can stretch at will
    (case,) = ET.parse(junit).getroot().iter("testcase")
    elapsed = float(case.get("time", "inf"))
    result.assert_outcomes(errors=1)
    output = "\n".join(result.outlines + result.errlines)
    assert "must not be reached" not in output
    assert "Traceback" not in output, output
    for secret in ("k3y-S3CR3T", "p0l-S3CR3T", "pg-S3CR3T"):
        assert secret not in output
    start_at = next(i for i, line in enumerate(result.outlines) if "ERROR at setup" in line)
    block = []
    for line in result.outlines[start_at + 1:]:
        if line.startswith(("====", "____")):
            break
        block.append(line)
    assert 0 < len(block) <= 25, "\n".join(block)  # one screen
    return output, elapsed


@pytest.mark.requirement("001-FR-053")
@pytest.mark.usefixtures("clean_service_env")
@pytest.mark.parametrize("endpoint", ["tcp_listener", "closed_port"],
                         ids=["never-answers", "closed-port"])
@pytest.mark.parametrize("service", sorted(CASES))
def test_an_unusable_endpoint_fails_within_the_timeouts(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
    service: str, endpoint: str,
) -> None:
    port: int = request.getfixturevalue(endpoint)
    output, elapsed = _run(pytester, monkeypatch, service, port)
    for culprit in CASES[service][2]:
        assert culprit.format(port=port) in output, output
    assert "Check:" in output
    if endpoint == "tcp_listener":  # accepted, never answered: the read timeout decides
        assert "did not answer in time" in output or "timeout" in output.lower(), output
    # about one read timeout, never the libraries' minutes
    assert elapsed < 3 * READ + 4, f"took {elapsed:.1f}s"


@pytest.mark.requirement("001-FR-024", "001-FR-053")
@pytest.mark.parametrize("listening", [True, False], ids=["hung", "closed"])
def test_run_dagster_job_against_a_webserver_that_does_not_answer_is_one_screen(
    pytester: pytest.Pytester, tcp_listener: int, closed_port: int, listening: bool
) -> None:
    port = tcp_listener if listening else closed_port
    pytester.makepyfile(test_job=f"""
        from dagster_graphql import DagsterGraphQLClient

        from floe_testing import run_dagster_job


        def test_it():
            client = DagsterGraphQLClient("127.0.0.1", port_number={port}, timeout=2)
            run_dagster_job(client, "some_job")
    """)
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--junitxml={junit}",
                                           timeout=LIMIT)
    result.assert_outcomes(failed=1)
    (case,) = ET.parse(junit).getroot().iter("testcase")
    assert float(case.get("time", "inf")) < 15
    output = result.stdout.str()
    assert f"Dagster webserver at http://127.0.0.1:{port}/graphql did not answer submitting " \
           "job 'some_job'" in output, output
    assert "DAGSTER_HOST, DAGSTER_PORT" in output
    assert output.count("site-packages") <= 2, "no frames of the GraphQL client"


@pytest.mark.requirement("001-FR-025", "001-FR-053")
def test_a_config_override_returning_a_dict_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import pytest


        @pytest.fixture(scope="session")
        def postgres_config():
            return {"host": "127.0.0.1", "password": "dict-S3cret-value"}
    """)
    pytester.makepyfile(test_pg="def test_pg(postgres_connection):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert ("postgres_config returned a dict, not a PostgresConfig: an override of it must "
            "return one, e.g. PostgresConfig(...) (from floe_testing import PostgresConfig)"
            in output), output
    assert "AttributeError" not in output


@pytest.mark.requirement("001-FR-022", "001-FR-053")
def test_a_broken_pyiceberg_is_named_not_blamed_on_the_catalog(
        pytester: pytest.Pytester, tcp_listener: int) -> None:
    pytester.makeconftest("""
        import sys
        sys.modules["pyiceberg.catalog.rest"] = None  # an install whose import fails
    """)
    pytester.makepyfile(test_cat=f"""
        from floe_testing import PolarisConfig, PolarisFixture


        def test_it():
            config = PolarisConfig(uri="http://127.0.0.1:{tcp_listener}/api/catalog")
            with PolarisFixture(config):
                pass
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "pyiceberg does not import in this environment (ModuleNotFoundError" in output, output
    assert "Reinstall it: pip install 'floe-testing[polaris]'" in output
    assert "is not usable" not in output, "not the catalog's fault"


@pytest.mark.requirement("001-FR-053", "001-FR-021")
@pytest.mark.usefixtures("clean_service_env")
@pytest.mark.parametrize("create", ["refused", "hangs"])
def test_a_server_that_lists_but_does_not_create_buckets_is_one_screen(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, create: str) -> None:
    """The probe (listing buckets) passes; creating the test's bucket gets S3's 403, or no
    answer at all: one screen naming the key, the bucket, the server's code or the bounds,
    and what to check, within the client's timeouts."""
    import threading

    from support.http_server import QuietHandler, serving

    listing = (b'<?xml version="1.0" encoding="UTF-8"?><ListAllMyBucketsResult '
               b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>x</ID></Owner>'
               b"<Buckets></Buckets></ListAllMyBucketsResult>")
    denied = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
              b"<Message>Access Denied.</Message><Resource>/b</Resource>"
              b"<RequestId>1</RequestId></Error>")
    released = threading.Event()

    class ListsButDoesNotCreate(QuietHandler):
        def do_GET(self) -> None:
            self.reply(200, listing, "application/xml")

        def do_PUT(self) -> None:
            if create == "hangs":
                released.wait(LIMIT)  # until the test is done: the client must give up first
                return
            self.reply(403, denied, "application/xml")

    with serving(ListsButDoesNotCreate) as port:
        monkeypatch.setenv("MINIO_ENDPOINT", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("MINIO_ACCESS_KEY", "reader")
        monkeypatch.setenv("MINIO_SECRET_KEY", "k3y-S3CR3T-reader")
        monkeypatch.setenv("FLOE_CONNECT_TIMEOUT", str(CONNECT))
        monkeypatch.setenv("FLOE_READ_TIMEOUT", str(READ))
        pytester.makepyfile(test_bucket="""
            def test_it(minio_bucket):
                raise AssertionError('must not be reached')
        """)
        try:
            result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=LIMIT)
        finally:
            released.set()
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "must not be reached" not in output
    assert "Traceback" not in output, output
    assert "k3y-S3CR3T-reader" not in output
    assert "S3 (MinIO, access key 'reader') creating bucket 'test-test-it-" in output, output
    assert "that the access key may create buckets" in output, output
    if create == "refused":
        assert "AccessDenied" in output, output
    else:
        assert "It did not answer in time" in output, output
