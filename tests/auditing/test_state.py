"""The audit's state file: malformed ones are one-line errors naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fgav.auditing import audit
from fgav.auditing.state import load_state
from fgav.core.errors import FgavError

GOOD = {"fingerprint": {}, "batches_done": 1, "accumulators": [], "skipped": []}


@pytest.mark.parametrize(("content", "message"), [
    ("[1, 2]", "it holds a JSON list, not an object"),
    ('"text"', "it holds a JSON str, not an object"),
    ("null", "it holds a JSON NoneType"),
    ("{}", "no fingerprint, batches_done, accumulators, skipped"),
    ("{not json", "Expecting property name"),
    (json.dumps({**GOOD, "fingerprint": [1]}), "its fingerprint is not an object"),
    (json.dumps({**GOOD, "batches_done": "3"}), "batches_done is '3', not a count"),
    (json.dumps({**GOOD, "batches_done": -1}), "batches_done is -1"),
    (json.dumps({**GOOD, "skipped": [3]}), "skipped is not a list of paths"),
    (json.dumps({**GOOD, "accumulators": {}}), "accumulators is not a list"),
    (json.dumps({**GOOD, "accumulators": [{"key": ["a", "b"], "state": {}}]}), "an accumulator entry is malformed"),
    (json.dumps({**GOOD, "accumulators": [7]}), "an accumulator entry is malformed"),
])
def test_malformed_state_files_are_one_line_errors_naming_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "audit.state"
    path.write_text(content)
    with pytest.raises(FgavError) as caught:
        load_state(path, fingerprint={})
    text = str(caught.value)
    assert text.startswith(f"{path} is not an audit state file (") and message in text and "\n" not in text


def test_undecodable_bytes_are_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "audit.state"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(FgavError, match="is not an audit state file"):
        load_state(path, fingerprint={})


def test_an_accumulator_with_missing_figures_is_refused_by_the_audit(tiny_target, tiny_data, tmp_path: Path) -> None:
    data, state = tiny_data.limit(8), tmp_path / "audit.state"
    options = dict(attacks="fgsm", eps="4/255", batch_size=4, device="cpu")

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        audit(tiny_target, data, state_path=state, progress=interrupt, **options)
    payload = json.loads(state.read_text())
    payload["accumulators"][0]["state"] = {"n": 4}  # well-formed JSON, figures missing
    state.write_text(json.dumps(payload))
    with pytest.raises(FgavError, match=f"{state} is not an audit state file .*--restart"):
        audit(tiny_target, data, state_path=state, resume=True, **options)
    state.write_text("[]")
    with pytest.raises(FgavError, match="holds a JSON list"):
        audit(tiny_target, data, state_path=state, resume=True, **options)
