"""
Reading and writing files so that nothing already written is lost, no reader ever sees half a file, and a
malformed input is one clear error.

Every output is checked before work starts (`check_writable`), and written through a temporary file in the
same directory that replaces the target in one rename (`atomic_write`), so a crash leaves either the old
file or the new one.
"""
import json
import os
import tempfile


def check_writable(path, directory=False):
    """Refuse, before any work, an output that cannot be written: a ValueError naming the path. Creates the
    missing parent directories (or the directory itself with directory=True); never creates, truncates or
    changes the file itself (an existing one is opened for append and closed; for a new one, a probe file
    is created beside it and removed)."""
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
    return path


def atomic_write(path, data):
    """Write bytes to path through a temporary file in its directory, then one os.replace."""
    directory = os.path.dirname(os.path.abspath(path))
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


def write_json(path, obj, indent=1):
    """obj as strict JSON (no NaN or Infinity, which other readers refuse), written atomically."""
    atomic_write(path, (json.dumps(obj, indent=indent, allow_nan=False) + "\n").encode())


def read_json(path, writer, *keys):
    """The JSON object in path, which `writer` wrote; a ValueError naming the file if it is missing, not
    JSON, not an object, or lacks one of keys."""
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the JSON that {writer} writes ({str(e).splitlines()[0]})")
    if not isinstance(obj, dict) or any(k not in obj for k in keys):
        raise ValueError(f"{path}: not the JSON object that {writer} writes (need keys {', '.join(keys) or 'any'})")
    return obj
