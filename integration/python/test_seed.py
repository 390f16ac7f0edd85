"""The cookbook code in this folder is still the cookbook's, token for token.

"Verbatim" is the point of the cookbook tests, so it is checked rather than
promised: every client block in cookbook_client.py and both server classes in
cookbook_server.py must appear in seed/flight-cookbook.rst as written there.
"""

import inspect
import re
import textwrap

import pytest

import cookbook_client
import cookbook_server
from conftest import SEED


def seed_blocks() -> list[tuple[bool, str]]:
    """(hidden, code) of every `.. testcode::` block of the seed, dedented."""
    if not SEED.is_file():
        pytest.fail(f"cookbook seed not found at {SEED}: it is part of the repository")
    blocks = []
    lines = SEED.read_text().splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith(".. testcode::"):
            i += 1
            continue
        i += 1
        hidden = False
        while i < len(lines) and lines[i].strip().startswith(":"):
            hidden = hidden or lines[i].strip() == ":hide:"
            i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
            body.append(lines[i])
            i += 1
        blocks.append((hidden, textwrap.dedent("\n".join(body)).strip("\n") + "\n"))
    return blocks


def test_seed_has_the_blocks_we_expect() -> None:
    # 15 blocks: two servers, hidden start/stop helpers and the client code.
    assert len(seed_blocks()) == 15


@pytest.mark.parametrize("name", ["CONNECT", "UPLOAD", "GET_FLIGHT_INFO", "READ", "DROP", "LIST", "STREAMED_UPLOAD", "STREAMED_READ"])
def test_client_block_is_verbatim(name: str) -> None:
    assert getattr(cookbook_client, name) in [code for _, code in seed_blocks()]


def test_flows_use_every_visible_client_block() -> None:
    client_blocks = [code for hidden, code in seed_blocks() if not hidden and "class FlightServer" not in code]
    assert list(cookbook_client.FIRST_FLOW) + list(cookbook_client.STREAMED_FLOW) == client_blocks


@pytest.mark.parametrize("variant,index", [("first", 0), ("streaming", 10)])
def test_server_class_is_verbatim(variant: str, index: int) -> None:
    factory = cookbook_server.VARIANTS[variant]
    source = textwrap.dedent(inspect.getsource(factory))
    # The class body as it sits in the factory, one level of indentation less.
    cls = textwrap.dedent(source[source.index("    class FlightServer"):source.index("    return FlightServer")])
    hidden, seed = seed_blocks()[index]
    assert not hidden
    assert cls.strip("\n") == seed[seed.index("class FlightServer"):].strip("\n")
    # And the module imports what the seed's block imports.
    imports = re.findall(r"^(?:import|from) .+$", seed[: seed.index("class FlightServer")], re.M)
    module = inspect.getsource(cookbook_server)
    for line in imports:
        assert re.search("^" + re.escape(line) + "$", module, re.M), line
