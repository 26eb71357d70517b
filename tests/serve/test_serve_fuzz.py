"""Fuzz: schemathesis generates requests from the server's own OpenAPI schema; none may get a 5xx."""

import pytest
from serve_helpers import live_server

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install schemathesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402  (hypothesis comes with schemathesis)


@pytest.fixture(scope="module")
def live(tiny_model):
    # small limits keep every generated request cheap; the limits themselves are what gets exercised
    with live_server(tiny_model, api_key="", max_tokens_limit=8, max_choices=4, max_request_bytes=50_000,
                     max_embedding_inputs=8) as (url, app):
        yield url, app


def operations(app):
    schema = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok() for result in schema.get_all_operations()]


def test_every_operation_is_fuzzed(live):
    paths = {op.path for op in operations(live[1])}
    assert {"/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/v1/models", "/tokenize",
            "/detokenize", "/tokenizer_info"} <= paths


POST = ["/v1/completions", "/v1/chat/completions", "/v1/embeddings", "/tokenize", "/detokenize"]
GET = ["/v1/models", "/health", "/metrics", "/tokenizer_info"]  # no inputs: nothing to violate in negative mode


@pytest.mark.parametrize("path,mode", [(p, "positive") for p in POST + GET] + [(p, "negative") for p in POST])
def test_no_server_errors(live, path, mode):
    """Valid requests (positive) and schema-violating ones (negative) alike: 2xx or a 4xx error object."""
    url, app = live
    (operation,) = [op for op in operations(app) if op.path == path]

    @given(operation.as_strategy(schemathesis.GenerationMode(mode)))
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case):
        response = case.call(base_url=url, timeout=60)
        assert response.status_code < 500, f"{case.method} {path} -> {response.status_code}: {response.text}"
        if response.status_code >= 400:
            assert "error" in response.json()  # an OpenAI-style error object, never a bare traceback

    check()
