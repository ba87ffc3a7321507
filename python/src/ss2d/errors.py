"""The exceptions of the package: the engine's errors, in Python's terms."""


class EngineError(RuntimeError):
    """The engine process failed, could not be started, or went away (the call did not complete)."""


class EngineTimeoutError(EngineError, TimeoutError):
    """A call took longer than the timeout (``ss2d.set_timeout``); its connection is dropped."""


class LimitExceededError(ValueError):
    """Valid input over a backend's limit (e.g. dstate above CUDA's MAX_DSTATE, or the memory budget)."""


def raise_for(reply):
    """Raises the exception a failed reply stands for: the engine's one-line message, unchanged."""
    kind, message = reply.get("kind"), reply.get("message", "(no message)")
    if kind == "argument":
        raise ValueError(message)
    if kind == "limit":
        raise LimitExceededError(message)
    if kind == "unsupported":
        raise NotImplementedError(message)
    raise EngineError(message)
