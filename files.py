"""
Reading and writing files so that nothing already written is lost, no reader ever sees half a file, and a
malformed input is one clear error.

Every output is checked before work starts: writable (`check_writable`), holding nothing but what the
command itself writes there (`kind`), and distinct from every input and every other output of the command
(`check_distinct`). Outputs are written through a temporary file in the target's directory that replaces
the target in one rename (`atomic_write`), so a crash leaves either the old file or the new one; a device
or FIFO is never renamed over, only written to. Inputs are read from regular files only (`read_regular`): a
FIFO would block the read forever.
"""
import json
import math
import os
import stat
import tempfile

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
