"""Modules with weights that stay in the engine between calls: SS2D, VSSBlock, VMamba."""

import os
import threading

from . import _engine, _ops
from ._refs import any_wire, new_output, ref, shape_of, sync_cuda, wrap


def _state_dict(sd, kind):
    if hasattr(sd, "state_dict") and callable(sd.state_dict):
        sd = sd.state_dict()          # an nn.Module
    out = {}
    for k, v in sd.items():
        if hasattr(v, "is_cuda") and v.is_cuda:
            if kind == "vmamba":
                v = v.detach().cpu()  # the engine's whole models take host weights: one copy, at load
            else:
                # a block's CUDA weights are mapped by the engine in place (CUDA IPC), as its inputs are
                v = v.detach()
                if v.dtype != _torch().float32 or not v.is_contiguous():
                    v = v.float().contiguous()     # a copy on the device, once
        out[k] = v
    return out


def _torch():
    import torch
    return torch


class _Module:
    _kind = None

    def __init__(self, state_dict=None, *, safetensors=None, prefix="", backend=None):
        if (state_dict is None) == (safetensors is None):
            raise ValueError("state_dict, safetensors: expected exactly one of them")
        self._backend = backend
        self._prefix = prefix
        self._safetensors = None if safetensors is None else os.path.abspath(os.fspath(safetensors))
        self._dict = None if state_dict is None else _state_dict(state_dict, self._kind)
        self._lock = threading.Lock()
        self._handle = None
        self._generation = None
        self._keep = []
        self.info = {}
        self._load()

    @classmethod
    def from_state_dict(cls, state_dict, prefix="", backend=None):
        """From a state dict (or an nn.Module) under VMamba's parameter names; the configuration is inferred
        from the shapes. Weights already in shared memory are used in place, others are copied there once."""
        return cls(state_dict, prefix=prefix, backend=backend)

    @classmethod
    def from_safetensors(cls, path, prefix="", backend=None):
        """From a safetensors file, which the engine maps itself (no copy of float32 weights)."""
        return cls(safetensors=path, prefix=prefix, backend=backend)

    def _load(self):
        eng = _engine.engine()
        req = {"op": "load", "kind": self._kind, "prefix": self._prefix}
        if self._backend is not None:
            req["backend"] = self._backend
        keep = []
        if self._safetensors is not None:
            req["safetensors"] = self._safetensors
        else:
            req["tensors"] = {k: ref(v, k, keep) for k, v in self._dict.items()}
            # CUDA weights: whatever PyTorch queued on them is done before the engine may read them at load (later
            # calls are ordered through their page of counters, or synchronised)
            sync_cuda(*self._dict.values())
        r = eng.call(req)
        self._keep = keep              # the engine views these arrays: they live as long as the module
        self._handle = r["handle"]
        self._generation = eng.generation
        self.info = r.get("info", {})

    def _ensure(self):
        eng = _engine.engine()
        if self._generation != eng.connected_generation() or self._handle is None:
            with self._lock:
                if self._generation != eng.generation or self._handle is None:
                    self._load()

    def _run(self, x, what=None):
        self._ensure()
        keep = []
        ordered = _ops.begin_cuda(x)   # a CUDA x: synchronised in send (or stream-ordered, when opted in)
        shapes = self._shapes(shape_of(x), what)
        parts = [_ops.SLOTS["x"], any_wire(x, "x", keep)]
        outs = []
        for i, s in enumerate(shapes):
            a, w = new_output(s, x, keep)
            outs.append(a)
            parts.append(_ops.SLOTS["out" if len(shapes) == 1 else "out%d" % i])
            parts.append(w)
        req = _ops.binary(_ops.OP_RUN, self._backend, (_ops.FEATURES if what == "features" else 0) | ordered,
                          self._handle, parts)
        if req is None:                # a backend name a binary frame cannot carry: JSON, for the engine's message
            names = ["out" if len(shapes) == 1 else "out%d" % i for i in range(len(shapes))]
            req = {"op": "run", "handle": self._handle, "backend": self._backend, "inputs": {"x": ref(x, "x", keep)},
                   "outputs": {n: ref(a, n, keep) for n, a in zip(names, outs)}, "ordered": bool(ordered)}
        rep = _ops.send(req, ordered, (x,))
        if self._generation != _engine.engine().generation:
            raise RuntimeError("the engine restarted during the call; call again")
        self.last_backend = rep.get("backend")
        return [wrap(a, x) for a in outs]

    def _shapes(self, xs, what):
        return [xs]

    def weights_changed(self):
        """Say that weight arrays given to the module were changed in place (copies on a device refresh)."""
        self._ensure()
        _engine.call({"op": "touch", "handle": self._handle})

    def close(self):
        """Frees the weights in the engine (also done when the process exits)."""
        h, self._handle = self._handle, None
        if h is not None and self._generation == _engine.engine().generation:
            try:
                _engine.call({"op": "free", "handle": h})
            except Exception:
                pass
        self._keep = []

    def __call__(self, x):
        return self._run(x)[0]

    forward = __call__

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class SS2D(_Module):
    """VMamba's SS2D block (released ``v05_noz`` path): ``x (batch, d_model, H, W)`` to the same shape."""
    _kind = "ss2d"


class VSSBlock(_Module):
    """VMamba's VSS block (norm, SS2D, residual, norm2, MLP, residual): ``x (batch, d_model, H, W)``."""
    _kind = "vss_block"


class VMamba(_Module):
    """A whole VMamba classification network from its state dict (configuration inferred from the shapes):
    ``model(x)`` / ``logits(x)`` for ``x (batch, 3, H, W)`` gives ``(batch, num_classes)``; ``features(x)``
    the four stage maps."""
    _kind = "vmamba"

    def logits(self, x):
        return self._run(x, "logits")[0]

    def features(self, x):
        return self._run(x, "features")

    def __call__(self, x):
        return self.logits(x)

    forward = __call__

    def _shapes(self, xs, what):
        if len(xs) != 4:
            return [xs]                 # the engine rejects x by name
        if what == "features":
            r = _engine.call({"op": "plan", "handle": self._handle, "what": "features", "x_shape": list(xs)})
            return [tuple(s) for s in r["shapes"]]
        return [(xs[0], self.info.get("num_classes", 0))]
