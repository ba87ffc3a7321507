"""The exceptions of the package: the engine's errors, in Python's terms."""


class EngineError(RuntimeError):
    """The engine process failed, could not be started, or went away (the call did not complete)."""


class EngineTimeoutError(EngineError, TimeoutError):
    """A call took longer than the timeout (``ss2d.set_timeout``); its connection is dropped."""


class LimitExceededError(ValueError):
    """Valid input over a backend's limit (e.g. dstate above CUDA's MAX_DSTATE, or the memory budget)."""


class StreamOrderError(EngineError):
    """The engine gave up waiting for a stream-ordered call to be reached on this process's CUDA stream (its deadline,
    ``SS2D_ORDER_DEADLINE``): that call's outputs are undefined; the connection is dropped, later calls work."""


def raise_for(reply):
    """Raises the exception a failed reply stands for: the engine's one-line message, unchanged."""
    kind, message = reply.get("kind"), reply.get("message", "(no message)")
    if kind == "argument":
        raise ValueError(message)
    if kind == "limit":
        raise LimitExceededError(message)
    if kind == "unsupported":
        raise NotImplementedError(message)
    if kind == "broken":
        raise StreamOrderError(message)
    raise EngineError(message)
