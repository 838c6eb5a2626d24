"""GradientModel and StepRunner: chunking, IO-binding ping-pong, input checks."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from advengine.errors import GraphError, ParameterError, ShapeError
from advengine.graph import compile_gradient_graph
from advengine.graph.runner import OWN_PREDICTION, GradientModel, StepRunner

from .conftest import session, tiny_mobilenet

SIZE = 16


@pytest.fixture(scope="module")
def net():  # type: ignore[no-untyped-def]
    return tiny_mobilenet(np.random.default_rng(6), classes=5)


def test_grad_chunks_and_pads_to_the_compiled_batch(net) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    x = rng.random((5, 3, SIZE, SIZE), dtype=np.float32)
    label = np.array([0, 1, 2, 3, 4])
    big = GradientModel(compile_gradient_graph(net, batch=5, size=SIZE), threads=1)
    small = GradientModel(compile_gradient_graph(net, batch=2, size=SIZE), threads=1)
    a, b = big.grad(x, label), small.grad(x, label)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-6)
    assert b.logits.shape == (5, 5)


def test_step_runner_equals_repeated_session_runs(net) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    compiled = compile_gradient_graph(net, loss="ce", batch=2, size=SIZE, step="mifgsm")
    x0 = rng.random((3, 3, SIZE, SIZE), dtype=np.float32)
    label = np.array([1, 2, 3])
    res = StepRunner(compiled, threads=1).run(x0, label, eps=0.03, alpha=0.01, steps=3, mu=0.8)
    sess = session(compiled)
    for s, e in [(0, 2), (2, 3)]:
        n = e - s
        pad = 2 - n
        x = np.concatenate([x0[s:e], np.zeros((pad, 3, SIZE, SIZE), np.float32)])
        x_orig, m = x.copy(), np.zeros_like(x)
        lab = np.concatenate([label[s:e], np.zeros(pad, np.int64)])
        for _ in range(3):
            x, m = sess.run(
                ["x_next", "m_next"],
                {
                    "input": x,
                    "x0": x_orig,
                    "label": lab,
                    "eps": np.full(2, 0.03, np.float32),
                    "alpha": np.full(2, 0.01, np.float32),
                    "momentum": m,
                    "mu": np.array(0.8, np.float32),
                },
            )
        np.testing.assert_array_equal(res.x[s:e], x[:n])
    assert np.abs(res.x - x0).max() <= 0.03 + 1e-7


def test_step_runner_reuses_its_buffers_across_calls(net) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(2)
    runner = StepRunner(compile_gradient_graph(net, batch=2, size=SIZE, step="sign"), threads=1)
    x0 = rng.random((2, 3, SIZE, SIZE), dtype=np.float32)
    first = runner.run(x0, np.array([0, 1]), eps=0.05, alpha=0.01, steps=2).x
    again = runner.run(x0, np.array([0, 1]), eps=0.05, alpha=0.01, steps=2).x
    np.testing.assert_array_equal(first, again)
    moved = np.abs(first - x0)
    assert moved.max() == pytest.approx(0.02, abs=1e-6)


def test_input_checks(net) -> None:  # type: ignore[no-untyped-def]
    gm = GradientModel(compile_gradient_graph(net, batch=2, size=SIZE), threads=1)
    x = np.zeros((2, 3, SIZE, SIZE), np.float32)
    with pytest.raises(ShapeError, match="this graph takes"):
        gm.grad(np.zeros((2, 3, 8, 8), np.float32), np.array([0, 1]))
    with pytest.raises(ParameterError, match=r"class indices in 0..4"):
        gm.grad(x, np.array([0, 5]))
    with pytest.raises(ParameterError, match="own prediction"):
        gm.grad(x, np.array([-2, 1]))
    with pytest.raises(ShapeError, match="labels must be integers"):
        gm.grad(x, np.array([0.0, 1.0]))
    runner = StepRunner(compile_gradient_graph(net, batch=2, size=SIZE, step="sign"), threads=1)
    with pytest.raises(GraphError, match="use StepRunner"):
        GradientModel(compile_gradient_graph(net, batch=2, size=SIZE, step="sign")).grad(x, np.array([0, 1]))
    with pytest.raises(GraphError, match="no fused step"):
        StepRunner(compile_gradient_graph(net, batch=2, size=SIZE))
    with pytest.raises(ParameterError, match="steps must be"):
        runner.run(x, np.array([0, 1]), eps=0.1, alpha=0.1, steps=0)
    with pytest.raises(GraphError, match="not found"):
        GradientModel("/nonexistent/graph.onnx")


def test_thread_knob_is_validated(monkeypatch: pytest.MonkeyPatch, net) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ADVENGINE_NUM_THREADS", "two")
    with pytest.raises(ParameterError, match="ADVENGINE_NUM_THREADS"):
        GradientModel(compile_gradient_graph(net, batch=1, size=SIZE))


def test_cpu_sessions_run_without_the_memory_pattern(net) -> None:  # type: ignore[no-untyped-def]
    # The pattern doubled a gradient graph's resident memory on CPU (see make_session).
    from advengine.graph.runner import make_session

    graph = compile_gradient_graph(net, batch=1, size=SIZE)
    sess = make_session(graph, threads=1, providers=["CPUExecutionProvider"])
    assert sess.get_session_options().enable_mem_pattern is False
    # Nor with spinning worker threads (they slowed a loaded machine down, see make_session).
    assert sess.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    x = np.random.default_rng(1).random((1, 3, SIZE, SIZE), dtype=np.float32)
    plain = GradientModel(graph, threads=1, providers=["CPUExecutionProvider"])
    assert plain.session.get_session_options().enable_mem_pattern is False
    assert np.isfinite(plain.grad(x, np.array([2])).grad).all()


def test_own_prediction_label_is_the_argmax_at_the_input(net) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    x = rng.random((3, 3, SIZE, SIZE), dtype=np.float32)
    model = GradientModel(compile_gradient_graph(net, loss="ce", batch=2, size=SIZE), threads=1)
    own = model.grad(x, np.full(3, OWN_PREDICTION))
    given = model.grad(x, np.argmax(own.logits, axis=1))
    np.testing.assert_array_equal(own.grad, given.grad)
    np.testing.assert_array_equal(own.loss, given.loss)


def test_step_runner_keeps_the_first_steps_own_prediction(net) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(4)
    x0 = rng.random((3, 3, SIZE, SIZE), dtype=np.float32)
    compiled = compile_gradient_graph(net, loss="ce", batch=2, size=SIZE, step="mifgsm")
    clean = GradientModel(compile_gradient_graph(net, loss="ce", batch=2, size=SIZE), threads=1)
    predicted = np.argmax(clean.grad(x0, np.zeros(3, np.int64)).logits, axis=1)
    runner = StepRunner(compiled, threads=1)
    # Budgets large enough for the prediction to change during the steps: later steps must keep the
    # first step's labels, not take the argmax at their own input.
    kw = {"eps": 0.5, "alpha": 0.2, "steps": 4, "mu": 1.0}
    mixed = np.array([OWN_PREDICTION, int(predicted[1]), OWN_PREDICTION])
    own = runner.run(x0, mixed, **kw)  # type: ignore[arg-type]
    given = runner.run(x0, predicted, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(own.labels, predicted)
    np.testing.assert_array_equal(own.x, given.x)
    assert (np.argmax(given.logits, axis=1) != predicted).any(), "the steps never changed a prediction"


def test_cuda_graphs_need_a_cuda_device(net) -> None:  # type: ignore[no-untyped-def]
    compiled = compile_gradient_graph(net, batch=2, size=SIZE, step="sign")
    with pytest.raises(ParameterError, match="needs the CUDAExecutionProvider"):
        StepRunner(compiled, providers=["CPUExecutionProvider"], cuda_graph=True)
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        with pytest.raises(ParameterError, match="CUDA device"):
            StepRunner(compiled, cuda_graph=True)


def test_an_onnx_runtime_failure_is_one_clear_error(net) -> None:  # type: ignore[no-untyped-def]
    """ORT raises its own types (a buffer it cannot allocate, ...): one GraphError, not a traceback."""
    model = GradientModel(compile_gradient_graph(net, batch=2, size=SIZE), threads=1)

    class Failing:
        def run(self, *args: object) -> None:
            raise RuntimeError("Failed to allocate memory for requested buffer of size 4398046511104")

    model.session = Failing()
    x = np.zeros((2, 3, SIZE, SIZE), np.float32)
    with pytest.raises(
        GraphError, match="ONNX Runtime failed running the gradient graph: Failed to allocate"
    ):
        model.grad(x, np.array([0, 1]))
