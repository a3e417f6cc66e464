"""
The conventions every command of the project shares: its command line and the files it reads and writes.

Bad input gets exactly one line on stderr, `error: ...`, and exit status 2, before any work starts:
never argparse's usage block, never a traceback. Ctrl-C or SIGTERM inside `resumable` gets one line saying
how to resume, and exit status 130, once the interrupted work has removed its temporary files. Counts accept
2000000, 2e6, 2M, 500k, 1G; numbers must be finite unless a flag says otherwise. A `knob` is a dataclass
field that is also a flag: its default, help, parser and range in one place (train.RunConfig is a table of them).

Files are read and written so that nothing already written is lost, no reader ever sees half a file, and a
malformed input is one clear error.

Every output is checked before work starts: writable (`check_writable`), holding nothing but what the
command itself writes there (`kind`), and distinct from every input and every other output of the command
(`check_distinct`). Outputs are written through a temporary file in the target's directory that replaces
the target in one rename (`atomic_write`), so a crash leaves either the old file or the new one; a device
or FIFO is never renamed over, only written to. Inputs are read from regular files only (`read_regular`): a
FIFO would block the read forever. A `claim` is a file locked with fcntl.flock: sweep.py claims a run by it,
and the kernel drops the lock when its holder dies, so no claim is ever stranded.
"""
import argparse
import contextlib
import dataclasses
import fcntl
import json
import math
import os
import shlex
import signal
import socket
import stat
import sys
import tempfile



class BadValue(argparse.ArgumentTypeError, ValueError):
    """A flag or spec value that cannot be used: argparse prints its message; other callers catch ValueError."""


def fail(message):
    """The one error exit: one line on stderr, status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


class HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The module docstring as written, and every flag's default in its help."""


class Parser(argparse.ArgumentParser):
    """argparse with the project's error style: one line and status 2 instead of the usage block."""

    def error(self, message):
        fail(message)


def guarded(fn, *args, **kwargs):
    """Call fn; a ValueError or OSError (bad input, a missing or unwritable file) becomes one error line."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, OSError) as e:
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)


def interrupt(signum, frame):
    """A signal handler: SIGTERM raises KeyboardInterrupt as Ctrl-C does, so that finally blocks clean up."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def resumable(script, argv):
    """Run the block with SIGTERM as Ctrl-C; either ends the process with one line on stderr saying how to
    resume (the same command line: script with argv, or sys.argv when argv is None) and status 130."""
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    except KeyboardInterrupt:
        words = sys.argv if argv is None else [os.path.basename(script), *argv]
        print(f"interrupted; resume with the same command: {shlex.join(['python', *words])}", file=sys.stderr)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def knob(default, help, parse, low=None, high=None, low_open=False, group="training", choices=None):
    """A dataclass field that is also a flag (train.RunConfig's): its default, its --help text, the parser that
    turns a flag or spec value into the field's type, and its allowed range (parse_field checks both)."""
    return dataclasses.field(default=default, metadata=dict(help=help, parse=parse, low=low, high=high,
                                                            low_open=low_open, group=group, choices=choices))


def choice(*options):
    def parse(value):
        if value not in options:
            raise BadValue(f"{value!r} is not one of {', '.join(options)}")
        return value
    return parse


def optional(parse):
    return lambda value: None if value is None else parse(value)


def parse_field(cls, name, value):
    """value as the knob field `name` of dataclass cls would hold it, checked against its range: a ValueError
    naming the flag if not."""
    meta = cls.__dataclass_fields__[name].metadata
    try:
        value = meta["parse"](value)
    except ValueError as e:
        raise ValueError(f"--{name.replace('_', '-')}: {e}")
    if value is not None and not isinstance(value, (str, tuple, bool)):
        in_range(name, value, meta["low"], meta["high"], meta["low_open"])
    return value


def add_knob_flags(parser, cls, titles):
    """One flag per knob field of dataclass cls: --name-with-dashes, its help, parser and default, in the
    parser's argument group titles[its group]. A bool is a switch; a tuple takes one or more values."""
    groups = {key: parser.add_argument_group(title) for key, title in titles.items()}
    for f in dataclasses.fields(cls):
        meta, flag, g = f.metadata, "--" + f.name.replace("_", "-"), groups[f.metadata["group"]]
        if meta["parse"] is parse_bool:
            g.add_argument(flag, action="store_true", help=meta["help"])
        elif f.type in (tuple, "tuple | None", tuple | None):
            g.add_argument(flag, nargs="+", metavar="FILE", help=meta["help"])
        else:
            metavar = "{" + ",".join(meta["choices"]) + "}" if meta["choices"] else None
            g.add_argument(flag, type=meta["parse"], default=f.default, metavar=metavar, help=meta["help"])


SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9}


def parse_count(value):
    """A non-negative whole count from 2000000, 2e6, '2M', '500k', '1G' (or an int/float of a spec)."""
    if isinstance(value, bool):
        raise BadValue(f"not a count: {value!r}")
    if isinstance(value, str):
        text = value.strip()
        scale = SUFFIXES.get(text[-1:].lower(), 1)
        try:
            number = float(text[:-1] if scale != 1 else text) * scale
        except ValueError:
            raise BadValue(f"not a count: {value!r}")
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise BadValue(f"not a count: {value!r}")
    if not math.isfinite(number) or number != int(number) or number < 0:
        raise BadValue(f"not a whole, finite, non-negative count: {value!r}")
    return int(number)


def parse_float(value):
    """A finite float from a number or its text ('nan' and 'inf' are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadValue(f"not a number: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise BadValue(f"not a number: {value!r}")
    if not math.isfinite(number):
        raise BadValue(f"not a finite number: {value!r}")
    return number


def is_number(text):
    """Whether text parses as a number (parse_float)."""
    try:
        parse_float(text)
        return True
    except ValueError:
        return False


def parse_int(value):
    """A whole number from an int, an integral float (16.0) or its text."""
    if isinstance(value, bool):
        raise BadValue(f"not an integer: {value!r}")
    try:
        number = float(value) if isinstance(value, (str, float)) else value
    except ValueError:
        raise BadValue(f"not an integer: {value!r}")
    if not isinstance(number, (int, float)) or not math.isfinite(number) or number != int(number):
        raise BadValue(f"not an integer: {value!r}")
    return int(number)


def parse_bool(value):
    """True or False from a JSON boolean or the words true/false/1/0 (a spec's "false" must not mean True)."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if isinstance(value, (str, int)) and str(value).strip().lower() in words:
        return words[str(value).strip().lower()]
    raise BadValue(f"not a boolean: {value!r}")


def parse_list(text, kind, name):
    """'32,64,128' -> [32, 64, 128] (sorted, without repeats), each parsed by kind and positive."""
    try:
        values = sorted({kind(v) for v in text.split(",") if v.strip()})
    except (ValueError, argparse.ArgumentTypeError):
        raise BadValue(f"--{name} must be a comma-separated list of positive numbers, got {text!r}")
    if not values or values[0] <= 0:
        raise BadValue(f"--{name} must be a comma-separated list of positive numbers, got {text!r}")
    return values


def in_range(name, value, low=None, high=None, low_open=False):
    """value itself if low <= value <= high (low < value with low_open); a ValueError naming the flag otherwise."""
    below = low is not None and (value <= low if low_open else value < low)
    if below or (high is not None and value > high):
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"<= {high}"
        raise BadValue(f"--{name.replace('_', '-')} must be {' and '.join(s for s in (lo, hi) if s)}, got {value}")
    return value


# ---------------------------------------------------------------------------------------------------
# files: nothing already written is lost, no reader sees half a file

KINDS = dict(json="JSON", jsonl="JSON Lines", torch="PyTorch", png="PNG")
MAGIC = dict(torch=(b"PK\x03\x04", b"\x80"), png=(b"\x89PNG",))  # torch.save's zip archive or legacy pickle
HEAD = dict(json=64 << 20, jsonl=1 << 20, torch=4, png=4)  # bytes read to recognise a file of each kind
NOT_JSON = object()


def check_writable(path, directory=False, kind=None, regular=False):
    """Refuse, before any work, an output that cannot be written: a ValueError naming the path. Creates the
    missing parent directories (or the directory itself with directory=True); never creates, truncates or
    changes the file itself (an existing one is opened for append and closed; for a new one, a probe file
    is created beside it and removed). With kind (a key of KINDS), an existing file must be empty or of that
    kind, so that a file some other program wrote is never overwritten or appended to. With regular, a
    device or FIFO is refused too: its writer renames a temporary file over the path, which would replace it,
    or needs a file it can append to and read back. A name the write would fail on is refused (check_name)."""
    check_name(path, directory)
    target = path if directory else os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as e:
        raise ValueError(f"{path}: cannot create directory ({e.strerror or e})")
    if directory:
        if not os.access(target, os.W_OK | os.X_OK):
            raise ValueError(f"{path}: directory is not writable")
        return path
    if os.path.isdir(path):
        raise ValueError(f"{path}: is a directory, not a file")
    if os.path.exists(path) and not os.path.isfile(path):
        return check_special(path, regular)
    try:
        if os.path.exists(path):
            with open(path, "ab"):  # append mode: leaves the file as it is
                pass
        else:
            fd, probe = tempfile.mkstemp(dir=target, prefix=".probe-")
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise ValueError(f"{path}: cannot write ({e.strerror or e})")
    if kind and os.path.exists(path) and not holds(path, kind):
        raise ValueError(f"{path}: exists and is not a {KINDS[kind]} file, so not one this command wrote; "
                         "refusing to write to it (remove it or choose another path)")
    return path


NAME_MAX = 255  # bytes in one component of a path (Linux and macOS file systems)


def check_name(path, directory=False):
    """Refuse a path that passes a probe but fails at the write, after the work: a component longer than
    NAME_MAX bytes, a symlink to nothing, or (unless directory) a name ending in '/' (a directory's)."""
    long = next((c for c in path.split(os.sep) if len(os.fsencode(c)) > NAME_MAX), None)
    if long is not None:
        raise ValueError(f"{path[:40]}...: a name of {len(os.fsencode(long))} bytes, more than the {NAME_MAX} a file "
                         "system allows")
    if os.path.islink(path) and not os.path.exists(path):
        raise ValueError(f"{path}: a symlink to {os.readlink(path)}, which does not exist; give a file path")
    if not directory and path.endswith(os.sep):
        raise ValueError(f"{path}: ends in {os.sep}, so names a directory; give a file path")


def check_special(path, regular):
    """check_writable of a device or FIFO: never opened here (opening a FIFO waits for its reader)."""
    if regular:
        raise ValueError(f"{path}: not a regular file (this output is written to a temporary file renamed "
                         "over the path, which would replace it); give a file path")
    if not os.access(path, os.W_OK):
        raise ValueError(f"{path}: cannot write (permission denied)")
    return path


def holds(path, kind):
    """Whether the regular file at path is blank or begins as a file of kind does: a torch archive, a PNG, one
    JSON value, or JSON Lines with a JSON object on one of its first lines (the first may be cut short by a
    crash)."""
    with open(path, "rb") as f:
        head = f.read(HEAD[kind])
    if not head.strip():
        return True
    if kind in MAGIC:
        return head.startswith(MAGIC[kind])
    if kind == "json":
        return parses(head) is not NOT_JSON
    return any(isinstance(parses(line), dict) for line in head.splitlines())


def parses(text):
    """The JSON value of bytes text (a leading byte-order mark ignored), or NOT_JSON if they are not JSON (or
    not UTF-8)."""
    try:
        return json.loads(text.removeprefix(b"\xef\xbb\xbf"))
    except ValueError:
        return NOT_JSON


def same_file(a, b):
    """Whether paths a and b name one file: equal once symlinks are followed, or one inode (a hard link)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def check_distinct(inputs, outputs):
    """Refuse, before any work, an output that is one of the command's inputs or another of its outputs
    (writing one would destroy the other): a ValueError naming both. inputs and outputs are (flag, path)
    pairs; a pair whose path is None or empty is left out."""
    inputs, outputs = [(f, p) for f, p in inputs if p], [(f, p) for f, p in outputs if p]
    for i, (flag, path) in enumerate(outputs):
        others = [(o, "another output") for o in outputs[:i]] + [(o, "an input") for o in inputs]
        for (other_flag, other), what in others:
            if same_file(path, other):
                raise ValueError(f"{flag} {path}: the same file as {other_flag} {other}, {what} of this command; "
                                 "refusing to write over it")


def check_outputs(inputs, outputs, temporaries=()):
    """Refuse, before any work, outputs that would lose what is already written or fail only once the work is
    done: each output (flag, path, kind) and temporary (name, path) distinct from every input (flag, path)
    and from each other (check_distinct), and writable as a regular file holding nothing but its kind
    (check_writable: the files are appended to and read back, or renamed into place from a temporary file,
    and a device such as /dev/full would fail only at the end). Pairs whose path is None are left out."""
    check_distinct(inputs, [(flag, path) for flag, path, _ in outputs] + list(temporaries))
    for _, path, kind in outputs:
        if path:
            check_writable(path, kind=kind, regular=True)
    for _, path in temporaries:  # a name the file system refuses would fail mid-run
        check_writable(path, regular=True)


def atomic_write(path, data):
    """Write bytes to path through a temporary file in its directory, then one os.replace. Through a symlink
    the target is replaced (the link stays); a device or FIFO is written to, never renamed over."""
    path = os.path.realpath(path)
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared dataset from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def discard(*paths):
    """Remove the files at paths that exist (temporary files left by an interrupted write)."""
    for path in paths:
        if path and os.path.lexists(path):
            os.remove(path)


def strict(value):
    """value with every non-finite float (an unconverged spectral gap, a degenerate standard error) as None,
    so that strict JSON can hold it; dicts, lists and tuples are walked."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: strict(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    return value


def write_json(path, obj, indent=1):
    """obj as strict JSON (no NaN or Infinity, which other readers refuse), written atomically."""
    atomic_write(path, (json.dumps(obj, indent=indent, allow_nan=False) + "\n").encode())


def check_regular(path):
    """path, if it names a regular file (symlinks followed); a ValueError naming it otherwise: reading a FIFO
    waits for a writer forever, and a device may never end."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ValueError(f"{path}: {'no such file' if isinstance(e, FileNotFoundError) else e.strerror or e}")
    return regular(path, mode)


def read_regular(path):
    """The bytes of the regular file at path: an OSError if it cannot be opened, a ValueError if it is not a
    regular file. Opened without blocking and checked once open, so a FIFO is refused at once, not read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as f:
        regular(path, os.fstat(fd).st_mode)
        return f.read()


def regular(path, mode):
    """path if its stat mode is a regular file's; a ValueError saying what it is otherwise."""
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a FIFO, socket or device)"
        raise ValueError(f"{path}: {kind}; give a file")
    return path


def read_json(path, writer, *keys):
    """The JSON object in path, which `writer` wrote; a ValueError naming the file if it is missing, not
    JSON, not an object, or lacks one of keys."""
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: a byte-order mark is not part of the JSON
            obj = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the JSON that {writer} writes ({str(e).splitlines()[0]})")
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise ValueError(f"{path}: not the JSON object that {writer} writes (need keys {', '.join(keys) or 'any'})")
    return obj


def claim(path):
    """Lock the claim file at path (fcntl.flock, exclusive, not waiting): the open file descriptor if this
    process now holds the run, None if a live process does. The kernel drops a lock when its holder dies, so
    a claim left by a killed process is free, whatever its file holds (empty, garbage, a reused pid)."""
    while True:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        if still_at(path, fd):
            os.ftruncate(fd, 0)
            os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())  # for people: the lock decides
            return fd
        os.close(fd)  # its holder released it (removed the file) after this process opened it: lock anew


def still_at(path, fd):
    """Whether path still names the file open as fd: release removes a claim's file before dropping its lock."""
    try:
        named, held = os.stat(path), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def release(path, fd):
    """Give up the claim at path held as fd."""
    with contextlib.suppress(FileNotFoundError):  # a claim someone cleared by hand
        os.remove(path)
    os.close(fd)


def holder(path):
    """Who holds the claim at path, as its file says ('pid P on HOST'), for the message of a skipped run."""
    try:
        with open(path) as f:
            return f.read().strip() or "holder unknown"
    except OSError:
        return "holder unknown"
