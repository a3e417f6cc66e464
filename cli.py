"""
The command-line conventions every script of the project shares.

Bad input gets exactly one line on stderr, `error: ...`, and exit status 2, before any work starts:
never argparse's usage block, never a traceback. Ctrl-C or SIGTERM inside `resumable` gets one line saying
how to resume, and exit status 130, once the interrupted work has removed its temporary files. Counts accept
2000000, 2e6, 2M, 500k, 1G; numbers must be finite unless a flag says otherwise.
"""
import argparse
import contextlib
import math
import os
import shlex
import signal
import sys


class BadValue(argparse.ArgumentTypeError, ValueError):
    """A flag or spec value that cannot be used: argparse prints its message; other callers catch ValueError."""


def fail(message):
    """The one error exit: one line on stderr, status 2."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


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
