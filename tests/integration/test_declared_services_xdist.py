"""A declared service under pytest-xdist: each worker finds the declaration (its conftest is
every worker's plugin), resolves it from env and hands its tests the client; its credential
is masked in the controller's report. (The unit tier runs without xdist at its floors.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.http_server import QuietHandler, serving

pytestmark = [pytest.mark.integration, pytest.mark.requirement("001-FR-025", "001-FR-050")]

TOKEN = "xdist-T0ken-4c1e9b77"


class _Ok(QuietHandler):
    def do_GET(self) -> None:
        self.reply(200, b"ok")


@pytest.fixture
def server() -> Iterator[int]:
    with serving(_Ok) as port:
        yield port


def test_a_declared_service_in_xdist_workers(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch,
                                             server: int) -> None:
    monkeypatch.setenv("ECHO_HOST", "127.0.0.1")
    monkeypatch.setenv("ECHO_PORT", str(server))
    monkeypatch.setenv("ECHO_TOKEN", TOKEN)
    pytester.makeconftest("""
        import urllib.request

        from floe_testing import declare_service

        echo_config, echo_client = declare_service(
            name="echo", service="echo", port=8080, credentials={"token": "ECHO_TOKEN"},
            client=lambda config: (lambda: urllib.request.urlopen(config.url, timeout=5).read()))
    """)
    pytester.makepyfile(test_echo="""
        import os

        import pytest


        @pytest.mark.parametrize("n", range(4))
        def test_in_a_worker(echo_client, echo_config, n):
            assert os.environ["PYTEST_XDIST_WORKER"].startswith("gw")
            assert echo_client() == b"ok"


        def test_shows_its_token(echo_config):
            print("token:", echo_config.token.get_secret_value())
            assert False, "fails to show its output"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-rA",
                                           timeout=60)
    result.assert_outcomes(passed=4, failed=1)
    output = result.stdout.str()
    assert "token: ***" in output, output
    assert TOKEN not in output
