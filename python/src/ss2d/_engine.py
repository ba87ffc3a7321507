"""The engine process: found, started on first use, and talked to over a Unix domain socket.

One engine per user: its socket is ``engine.sock`` in ``$XDG_RUNTIME_DIR/ss2d`` (else ``<tmp>/ss2d-<uid>``),
a folder created with mode 0700 and refused if anyone else could enter it. The first process that finds
no engine starts one (``ss2d serve``) under a file lock, in its own session so that it outlives the caller;
later processes connect to it. It exits by itself after 15 idle minutes.

A connection carries one request at a time; threads take one from a small pool (a new one when all are
busy), so calls from several threads run in the engine at once. All connections of this process share
one session there: the shared-memory segments it mapped and the modules it loaded.
"""

import fcntl
import json
import os
import secrets
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import _order
from .errors import EngineError, EngineTimeoutError, raise_for

_HEADER = struct.Struct("<I")
_encode = json.JSONEncoder(separators=(",", ":")).encode   # made once: json.dumps builds an encoder per call


def _timeout():
    return float(os.environ.get("SS2D_TIMEOUT", "600"))


def runtime_dir():
    """The per-user folder of the engine's socket, created 0700 and checked to be private."""
    if os.environ.get("SS2D_SOCKET"):
        return Path(os.environ["SS2D_SOCKET"]).parent
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(xdg) / "ss2d" if xdg and os.path.isdir(xdg) else Path(tempfile.gettempdir()) / ("ss2d-%d" % os.getuid())
    try:
        base.mkdir(mode=0o700, exist_ok=True)
    except OSError as e:
        raise EngineError("cannot create the engine's folder %s: %s" % (base, e)) from None
    st = os.lstat(base)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise EngineError("the engine's folder %s must be a folder owned by you with mode 0700 (found uid %d, mode %o)"
                          % (base, st.st_uid, stat.S_IMODE(st.st_mode)))
    return base


def socket_path():
    return Path(os.environ["SS2D_SOCKET"]) if os.environ.get("SS2D_SOCKET") else runtime_dir() / "engine.sock"


def engine_command():
    """How to start the engine: $SS2D_ENGINE (a command line), `ss2d` on the PATH, or this checkout's launcher."""
    env = os.environ.get("SS2D_ENGINE")
    if env:
        return shlex.split(env)
    found = shutil.which("ss2d")
    if found:
        return [found]
    here = Path(__file__).resolve()
    if len(here.parents) > 3:
        checkout = here.parents[3] / "ss2d"      # python/src/ss2d/_engine.py -> the repository's launcher
        if checkout.is_file() and os.access(checkout, os.X_OK):
            return [str(checkout)]
    raise EngineError("no ss2d engine found: set SS2D_ENGINE to the ss2d launcher (a checkout's ./ss2d or the "
                      "bundle's bin/ss2d), or put ss2d on the PATH")


_REPLY_TIMES = struct.Struct("<qq")     # a binary reply's op and request nanoseconds
_OP_NAMES = {1: "ping", 2: "selective_scan", 3: "cross_scan", 4: "cross_merge", 5: "run"}


def op_name(req):
    return _OP_NAMES.get(req[1], "a binary request") if type(req) is bytes else req.get("op")


class Connection:
    """One socket to the engine, in blocking mode with the timeout set in the kernel (SO_RCVTIMEO/SO_SNDTIMEO):
    a Python socket timeout would poll() before every send and receive, a system call each way per request."""

    __slots__ = ("sock", "buf", "view", "timeout", "flags")

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.timeout = timeout
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(str(path))
            self.sock.settimeout(None)
            tv = struct.pack("ll", int(timeout), int((timeout - int(timeout)) * 1e6))
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, tv)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, tv)
        except BaseException:
            self.sock.close()
            raise
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)
        self.flags = {}      # CUDA device index -> its ordering page (_order.Flags), for stream-ordered calls

    def request(self, req):
        """Sends ``req`` (a dict as JSON, or the bytes of a binary request) and returns the reply as a dict."""
        body = req if type(req) is bytes else _encode(req).encode()
        self.sock.sendall(_HEADER.pack(len(body)) + body)
        got = self._recv(0, 4)
        n = 4 + _HEADER.unpack_from(self.buf)[0]
        if n > len(self.buf):
            bigger = bytearray(n)
            bigger[:got] = self.buf[:got]
            self.buf, self.view = bigger, memoryview(bigger)
        if self._recv(got, n) != n:
            raise ValueError("the engine sent more than one reply")
        buf = self.buf
        if buf[4] == 1:              # a binary reply: the op went through
            k = buf[5]
            engine_ns, server_ns = _REPLY_TIMES.unpack_from(buf, 6 + k)
            return {"ok": True, "backend": buf[6:6 + k].decode() if k else None,
                    "engine_us": engine_ns / 1000, "server_us": server_ns / 1000}
        return json.loads(bytes(self.view[4:n]))

    def _recv(self, got, n):
        """Receives until at least ``n`` bytes are in the buffer (from ``got``); returns how many are."""
        view = self.view
        while got < n:
            k = self.sock.recv_into(view[got:])
            if k == 0:
                raise ConnectionResetError("the engine closed the connection")
            got += k
        return got

    def close(self, release=False):
        """Closes the socket. ``release``: the engine is gone or no longer answers, so this process's streams must not
        wait for its done words any more (written from the host). Either way the pages stay mapped and registered for
        the life of the process: a wait queued on one of its streams may still read them."""
        if self.flags:
            for f in self.flags.values():
                _order.retire(f, release)
            self.flags = {}
        try:
            self.sock.close()
        except OSError:
            pass



class Engine:
    """This process's link to the engine: a pool of connections, and which engine (pid) they reach."""

    def __init__(self):
        self.pid = os.getpid()
        self.token = secrets.token_hex(8)
        self.lock = threading.Lock()
        self.idle = []
        self.server_pid = None
        self.generation = 0          # bumped when a new engine (or session) is reached: modules reload
        self.protocol = 3            # the engine's, from its hello: 3 has stream order through host flags
        self.process = None
        self.unordered = set()       # CUDA devices whose calls fell back to synchronous (no stream order there)

    def call(self, req, start=True):
        """Sends one request and returns the reply; raises the engine's error as a Python exception. With
        ``start=False`` no engine is started for it: FileNotFoundError or ConnectionRefusedError instead."""
        conn = self._acquire(start)
        reply = self._exchange(conn, req)
        self.idle.append(conn)
        if not reply.get("ok"):
            raise_for(reply)
        return reply

    def call_cuda(self, req, device):
        """A stream-ordered call on CUDA tensors of ``device`` (``req`` carries the ordered flag, not yet its ticket):
        queues the write of the call's ticket on PyTorch's current stream, sends, and queues on that stream the wait
        for the engine's stream to have written it back after the op. Nothing waits on the host."""
        import torch
        if torch.cuda.is_current_stream_capturing():
            raise NotImplementedError("a call on CUDA tensors cannot be captured in a CUDA graph: the engine's kernels "
                                      "run in another process, outside the graph")
        conn = self._acquire(True)
        if self.protocol < 3 or device.index in self.unordered:
            # an older engine (its hello said so), or a device whose ordering page could not be set up: synchronous
            # calls, as in the SS2D_CUDA_SYNC mode
            self.idle.append(conn)
            torch.cuda.current_stream(device).synchronize()
            return self.call(_order.plain(req))
        try:
            flags = conn.flags.get(device.index)
            if flags is None:
                flags = self._cuda_flags(conn, device)
                if flags is None:
                    self.idle.append(conn)
                    torch.cuda.current_stream(device).synchronize()
                    return self.call(_order.plain(req))
            stream = _order.current_stream(device.index)
            k = flags.ready(stream)
        except BaseException:
            if conn.sock.fileno() >= 0:      # still open (a refusal, not a lost engine): back to the pool
                self.idle.append(conn)
            raise
        reply = self._exchange(conn, _order.with_ticket(req, k))     # a lost engine: the connection releases the flags
        ok = reply.get("ok")
        if ok or reply.get("done"):
            # also after an error reply that says so: the engine's done follows whatever it had launched
            flags.wait_done(stream, k)
        if not ok:
            if reply.get("kind") == "broken":
                conn.close(release=True)     # the engine gave up on this connection's order (its deadline)
            else:
                self.idle.append(conn)
            raise_for(reply)
        self.idle.append(conn)
        return reply

    def _cuda_flags(self, conn, device):
        """This connection's ordering page for ``device``: made and registered here, mapped by the engine. None when
        the CUDA driver (here or in the engine) cannot do it: the device's calls are then synchronous, with a warning
        (correct, only slower); a refusal of the request itself (no CUDA backend, another device) raises."""
        try:
            flags = _order.Flags(device.index)
        except (RuntimeError, AttributeError, OSError) as e:
            return self._unordered(device, "this process: %s" % e)
        try:
            reply = self._exchange(conn, flags.request())
        except BaseException:
            _order.retire(flags, False)
            raise
        if not reply.get("ok"):
            _order.retire(flags, False)
            if reply.get("kind") == "failed":
                return self._unordered(device, "the engine: %s" % reply.get("message"))
            raise_for(reply)
        conn.flags[device.index] = flags
        return flags

    def _unordered(self, device, why):
        import warnings
        self.unordered.add(device.index)
        warnings.warn("ss2d: calls on CUDA tensors of cuda:%d are synchronous: stream order could not be set up in %s"
                      % (device.index, why), RuntimeWarning, stacklevel=4)
        return None

    def _exchange(self, conn, req):
        """The reply to ``req`` on ``conn``; a timeout or a lost engine closes the connection and raises."""
        try:
            return conn.request(req)
        except (socket.timeout, BlockingIOError):
            # SO_RCVTIMEO ran out: recv fails with EAGAIN
            conn.close(release=True)
            raise EngineTimeoutError("no answer from the engine within %g s (op %s; SS2D_TIMEOUT to change)"
                                     % (conn.timeout, op_name(req))) from None
        except (OSError, ValueError) as e:
            conn.close(release=True)
            self._forget(release=True)
            raise EngineError("the engine went away during %s (%s); the next call starts a new one"
                              % (op_name(req), e)) from None

    def connected_generation(self):
        """The generation after making sure one connection is open (so a restarted engine is noticed first)."""
        if not self.idle:
            self.idle.append(self._open())
        return self.generation

    def _acquire(self, start=True):
        try:
            return self.idle.pop()
        except IndexError:
            return self._open(start)

    def _forget(self, release=False):
        with self.lock:
            for c in self.idle:
                c.close(release)
            self.idle = []

    def _open(self, start=True):
        path = socket_path()
        deadline = time.monotonic() + 10
        while True:
            try:
                conn = Connection(path, _timeout())
            except (FileNotFoundError, ConnectionRefusedError):
                if not start:
                    raise
                conn = self._start(path)
            try:
                hello = conn.request({"op": "hello", "pid": os.getpid(), "token": self.token})
                break
            except (OSError, ValueError) as e:
                # an engine killed a moment ago can still accept before its socket goes: try again shortly
                conn.close()
                if time.monotonic() > deadline:
                    raise EngineError("the engine at %s did not answer hello (%s)" % (path, e)) from None
                time.sleep(0.05)
        if not hello.get("ok"):
            conn.close()
            raise_for(hello)
        with self.lock:
            self.protocol = hello.get("protocol", 1)
            if hello["pid"] != self.server_pid or hello.get("new_session"):
                # another engine than before (first call, or the old one died), or our session there ended
                # (every connection dropped): modules loaded before must load again
                self.server_pid = hello["pid"]
                self.generation += 1
        return conn

    def _start(self, path):
        """Starts an engine unless another process just did (under a lock in the socket's folder)."""
        with open(path.parent / "engine.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return Connection(path, _timeout())
            except (FileNotFoundError, ConnectionRefusedError):
                pass
            cmd = engine_command() + ["serve", "--socket", str(path)]
            log_path = path.parent / "engine.log"
            with open(log_path, "ab") as log:
                proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=True, close_fds=True)
            self.process = proc
            deadline = time.monotonic() + float(os.environ.get("SS2D_START_TIMEOUT", "180"))
            while True:
                try:
                    return Connection(path, _timeout())
                except (FileNotFoundError, ConnectionRefusedError):
                    pass
                status = proc.poll()
                if status is not None:
                    raise EngineError("the engine (%s) exited with status %d before listening: %s"
                                      % (" ".join(cmd), status, _tail(log_path)))
                if time.monotonic() > deadline:
                    raise EngineError("the engine (%s) did not listen on %s in time: %s" % (" ".join(cmd), path, _tail(log_path)))
                time.sleep(0.02)


def _tail(path, n=5):
    try:
        lines = Path(path).read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-n:]) or "(no output)"
    except OSError:
        return "(no log)"


_engine = None
_engine_lock = threading.Lock()


def engine():
    global _engine
    e = _engine
    if e is None:
        with _engine_lock:
            if _engine is None:
                _engine = Engine()
            e = _engine
    return e


def _after_fork():
    # The parent's connections (and its session in the engine) are not the child's: start afresh.
    global _engine, _engine_lock
    _engine, _engine_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_after_fork)


def call(req):
    return engine().call(req)
