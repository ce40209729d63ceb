"""ledgerbox Python driver: runs one analyst program inside the sandbox.

    /usr/bin/python3 -I -B driver.py CODE_FILE

The protocol (environment, result JSON on LEDGERBOX_RESULT_FD, exit codes)
is described in docs/python-driver.md.

The analyst's code runs in this process, so anything the driver relies on
after that code ran is bound here at import time: builtins are snapshotted
and restored, the os functions and standard streams are captured, and the
result is encoded without the json module.  This keeps the driver's own
output well-formed when the code misbehaves by accident; it is no defence
against code that hunts for the driver on purpose (the sandbox is).

Only the standard library is imported up front: pandas and matplotlib
cost hundreds of milliseconds, so the driver touches them only when the
analyst's code already imported them.  The exception is a warm sandbox
(`driver.py --warm`, docs/warm-pool.md): there the driver imports them
before its program exists and then reads the program from its stdin.
"""

import ast
import builtins
import gc
import math
import os
import sys

FILENAME = "<analysis>"
CODE_FILE = "/run/ledgerbox/code.py"
EXIT_OK, EXIT_ERROR, EXIT_MISUSE = 0, 1, 2
# What a warm sandbox imports before its program arrives, and the largest
# program (with its header line) it accepts: the sandbox's own bound.
WARM_MODULES = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot")
WARM_PROGRAM_MAX = (4 << 20) + 64

_BUILTINS = dict(vars(builtins))
_restore_builtins = vars(builtins).update
_modules = sys.modules
_stdout, _stderr = sys.stdout, sys.stderr
_os_open, _os_write, _os_close, _os_dup = os.open, os.write, os.close, os.dup
_os_read, _os_dup2, _os_closerange = os.read, os.dup2, os.closerange
_os_unlink, _os_getpid, _os_exit = os.unlink, os.getpid, os._exit
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_collect_garbage = gc.collect
_freeze_garbage = gc.freeze
_isfinite = math.isfinite
_err_fd = 2  # replaced by a private copy in _claim_fds()

# JSON needs control characters, quote and backslash escaped; \n and \t get
# their short forms for readability.
_JSON_ESCAPES = {code: f"\\u{code:04x}" for code in range(0x20)}
_JSON_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t"})


def _write_all(fd, data):
    while data:
        data = data[_os_write(fd, data):]


def _say(text):
    """Writes a driver message (or the analyst's traceback) to stderr."""
    try:
        _stderr.flush()  # keep the analyst's half-written stderr line first
    except BaseException:
        pass
    try:
        _write_all(_err_fd, text.encode("utf-8", "backslashreplace"))
    except OSError:
        pass


def _misuse(message):
    """The host called the driver wrongly: no result, exit 2."""
    _say(f"ledgerbox: {message}\n")
    _os_exit(EXIT_MISUSE)


def _env_int(environ, name, default, low, high):
    raw = environ.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        _misuse(f"{name} must be an integer from {low} to {high}, got {raw!r}")
    return int(raw)


def _settings(environ):
    max_rows = _env_int(environ, "LEDGERBOX_MAX_ROWS", 1000, 0, 1_000_000)
    result_fd = _env_int(environ, "LEDGERBOX_RESULT_FD", 3, 3, 65535)
    out_dir = environ.get("LEDGERBOX_OUT_DIR", "/out")
    if not (os.path.isabs(out_dir) and os.path.isdir(out_dir)):
        _misuse(f"LEDGERBOX_OUT_DIR must be an existing directory given as an absolute path, got {out_dir!r}")
    return max_rows, result_fd, out_dir


def _claim_fds(result_fd):
    """Moves the result channel to a private non-inheritable fd and returns
    it (None when it is not open, e.g. when the driver is run by hand).

    Writes to the well-known number, by the analyst's code or a child
    process, then fail instead of corrupting the result.  Driver messages go
    to a private copy of stderr too, so they still arrive if the analyst
    closes fd 2 and never land in a file that reuses that number.  Both
    copies are made before the original closes, so neither takes its number.
    """
    global _err_fd
    try:
        private = _os_dup(result_fd)
    except OSError:
        private = None
    try:
        _err_fd = _os_dup(2)
    except OSError:
        pass
    if private is not None:
        _os_close(result_fd)
    return private


def _warm_up():
    """A warm sandbox: imports what analyses use, says "R" on the hand-off
    socket (stdin) and reads the program from it until the host closes it.

    The stream is one header line "MAX_ROWS COMPILE_ONLY" and the program.
    stdin then becomes /dev/null, as in a cold run.  Returns (max_rows,
    compile_only, source).
    """
    for name in WARM_MODULES:
        try:
            __import__(name)
        except Exception:  # a library that fails fails again in the analyst's import
            pass
    # The libraries' objects live as long as the process: moved out of the
    # collector's sight, the collection after the run (a tenth of a second
    # over pandas and matplotlib) only walks what the analyst made.
    _collect_garbage()
    _freeze_garbage()
    chunks, size = [], 0
    try:
        _write_all(0, b"R")
        while True:
            chunk = _os_read(0, 1 << 16)
            if not chunk:
                break
            size += len(chunk)
            if size > WARM_PROGRAM_MAX:
                _misuse("the program sent to the warm sandbox is too large")
            chunks.append(chunk)
        null = _os_open("/dev/null", os.O_RDONLY)
        _os_dup2(null, 0)
        _os_close(null)
    except OSError as error:
        _misuse(f"cannot read the program: {error.strerror}")
    header, newline, source = b"".join(chunks).partition(b"\n")
    fields = header.split()
    if not newline or len(fields) != 2 or not all(f.isdigit() for f in fields):
        _misuse("malformed hand-off header")
    return min(int(fields[0]), 1_000_000), fields[1] == b"1", source


class _Program:
    """The analyst's code, split for notebook semantics: `body` runs first,
    then `last` (the final top-level expression, or None) is evaluated."""

    def __init__(self, source):
        tree = ast.parse(source, FILENAME)
        self.last = None
        self.last_line = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            node = tree.body.pop()
            self.last_line = node.lineno
            # The node keeps its own positions, so tracebacks point at the
            # analyst's real line.
            self.last = compile(ast.Expression(node.value), FILENAME, "eval", dont_inherit=True)
        self.body = compile(tree, FILENAME, "exec", dont_inherit=True)


def _is_frame(value):
    pandas = _modules.get("pandas")
    return pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series))


def _run(program, namespace):
    """Runs the analyst's code; returns the final DataFrame/Series or None."""
    exec(program.body, namespace)
    if program.last is None:
        return None
    value = eval(program.last, namespace)
    if _is_frame(value):
        return value
    sys.displayhook(value)  # print repr() like a REPL (skips None)
    return None


def _text(value):
    """str() of an analyst object, which may itself fail."""
    try:
        return str(value)
    except BaseException:
        return f"<unprintable {type(value).__name__} object>"


def _show_source(source):
    """Lets traceback print the analyst's lines (there is no file named <analysis>)."""
    import linecache

    lines = source.decode("utf-8", "replace").splitlines(keepends=True)
    linecache.cache[FILENAME] = (len(source), None, lines, FILENAME)
    return lines


def _compile_error(error, source):
    """Reports code that does not compile: SyntaxError and its subclasses, the
    ValueError for NUL bytes, RecursionError for absurdly nested code.

    The whole program is compiled before any of it runs, so stage "compile"
    tells the host that nothing ran: the run was only the code's check."""
    import traceback

    syntax = isinstance(error, SyntaxError)
    if syntax and error.text is None and error.lineno:
        # Errors found while compiling the AST (e.g. 'return' outside
        # function) carry no source text; add it for the caret display.
        lines = _show_source(source)
        if 0 < error.lineno <= len(lines):
            error.text = lines[error.lineno - 1]
    _say("".join(traceback.format_exception_only(error)))
    return {
        "type": "SyntaxError" if syntax or isinstance(error, ValueError) else type(error).__name__,
        "message": _text(error.msg if syntax else error),
        "line": error.lineno if syntax else None,
        "offset": error.offset if syntax else None,
        "stage": "compile",
    }


def _analyst_traceback(tb):
    """Drops the driver's own frames from the top of a traceback."""
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return tb


def _innermost_line(tb):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _run_error(error, source, last_line):
    """Turns what the analyst's code raised into (exit status, error or None)."""
    tb = _analyst_traceback(error.__traceback__)
    # No analyst frame: it came from displaying the final value.
    line = _innermost_line(tb) or last_line
    if isinstance(error, SystemExit):
        code = error.code
        if code is None or (isinstance(code, int) and code == 0):
            return EXIT_OK, None
        if isinstance(code, int):
            status = code if 0 < code < 256 else EXIT_ERROR  # Python would wrap it modulo 256
        else:
            status = EXIT_ERROR
            _say(_text(code) + "\n")  # sys.exit("message") prints the message, as Python does
        return status, {"type": "SystemExit", "message": _text(code), "line": line, "stage": "run"}
    _show_source(source)
    try:
        import traceback

        _say("".join(traceback.format_exception(type(error), error, tb)))
    except BaseException:  # a broken exception or a patched traceback module
        _say(f"{type(error).__name__}: {_text(error)}\n")
    return EXIT_ERROR, {"type": type(error).__name__, "message": _text(error), "line": line, "stage": "run"}


def _new_png(out_dir, number):
    """Creates the first free figure-N.png with N >= number.

    O_EXCL (and O_NOFOLLOW) so a file or link the analyst put there is never
    overwritten.  Returns (N, name, fd).
    """
    while True:
        name = f"figure-{number}.png"
        try:
            return number, name, _os_open(f"{out_dir}/{name}", _NEW_FILE, 0o644)
        except FileExistsError:
            number += 1


def _save_figures(out_dir):
    """Saves and closes every open pyplot figure; returns the file names."""
    pyplot = _modules.get("matplotlib.pyplot")
    if pyplot is None:
        return []
    saved = []
    number = 0
    for figure_number in pyplot.get_fignums():
        path = None
        try:
            figure = pyplot.figure(figure_number)
            number, name, fd = _new_png(out_dir, max(number + 1, figure_number))
            path = f"{out_dir}/{name}"
            with open(fd, "wb") as file:
                figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
            saved.append(name)
        except BaseException as error:
            _say(f"ledgerbox: could not save figure {figure_number}: {type(error).__name__}: {_text(error)}\n")
            if path is not None:
                try:
                    _os_unlink(path)  # no half-written PNG
                except OSError:
                    pass
        finally:
            try:
                pyplot.close(figure_number)
            except BaseException:
                pass
    return saved


def _column_type(dtype, types):
    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        return "real"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "text"


def _column_names(labels):
    """Column labels as unique strings; MultiIndex tuples joined with " / "."""
    names, seen = [], set()
    for label in labels:
        if isinstance(label, tuple):
            # reset_index-style padding leaves "" parts; they add nothing.
            name = " / ".join(_text(part) for part in label if not (isinstance(part, str) and part == ""))
        else:
            name = _text(label)
        unique, suffix = name, 1
        while unique in seen:
            suffix += 1
            unique = f"{name}_{suffix}"
        seen.add(unique)
        names.append(unique)
    return names


def _table(value, max_rows):
    """Converts the final DataFrame/Series to the result table."""
    # Already loaded by pandas, so importing them here costs nothing and
    # keeps them out of the driver's startup.
    import datetime
    import decimal
    import numbers

    pandas = _modules["pandas"]
    numpy = _modules["numpy"]
    is_scalar, is_missing = pandas.api.types.is_scalar, pandas.isna

    def cell(item):
        try:
            if is_scalar(item) and is_missing(item):
                return None
            if isinstance(item, (bool, numpy.bool_)):
                return bool(item)
            if isinstance(item, numbers.Integral):
                return int(item)
            if isinstance(item, (numbers.Real, decimal.Decimal)):
                return float(item)  # inf is written as null by _json
            if isinstance(item, (datetime.date, datetime.time)):
                return item.isoformat()
            if isinstance(item, str):
                return item
            if isinstance(item, (bytes, bytearray)):
                return repr(item)
            return str(item)
        except Exception:
            return f"<unprintable {type(item).__name__} object>"

    if isinstance(value, pandas.Series):
        value = value.to_frame(name="value" if value.name is None else value.name)
    head = value.iloc[:max_rows]
    labels, columns = [], []
    index = value.index
    default_index = isinstance(index, pandas.RangeIndex) and index.start == 0 and index.step == 1 and index.name is None
    if not default_index:
        # What reset_index() would do, without its failures on duplicate names.
        for level, name in enumerate(head.index.names):
            if name is None:
                name = "index" if head.index.nlevels == 1 else f"level_{level}"
            labels.append(name)
            columns.append(head.index.get_level_values(level))
    for position in range(head.shape[1]):
        labels.append(head.columns[position])
        columns.append(head.iloc[:, position])
    cells = [[cell(item) for item in column.tolist()] for column in columns]
    types = pandas.api.types
    return {
        "columns": [
            {"name": name, "type": _column_type(column.dtype, types)}
            for name, column in zip(_column_names(labels), columns)
        ],
        "rows": [list(row) for row in zip(*cells)] if cells else [[] for _ in range(len(head))],
        "row_count": len(head),
        "total_rows": len(value),
        "truncated": len(value) > len(head),
    }


def _json(value):
    """Encodes the result: dicts, lists, str, int, float, bool and None only.

    Not json.dumps: that module costs startup time and may have been
    monkeypatched by the analyst.  Like allow_nan=False it never emits NaN
    or Infinity (they become null), and lone surrogates become \\udcxx text
    so the output is valid UTF-8.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return '"' + text.translate(_JSON_ESCAPES) + '"'
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if _isfinite(value) else "null"
    if isinstance(value, list):
        return "[" + ",".join(map(_json, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(_json(key) + ":" + _json(item) for key, item in value.items()) + "}"
    raise TypeError(f"cannot encode {type(value).__name__} in the result")


def _flush_output():
    """Flushes what the analyst printed; a closed or replaced stream must not
    stop the driver."""
    streams = [_stdout, _stderr]
    try:
        streams += [sys.stdout, sys.stderr]  # redirections the analyst made
    except BaseException:
        pass
    for stream in streams:
        try:
            stream.flush()
        except BaseException:
            pass


def main(argv, environ):
    max_rows, result_fd, out_dir = _settings(environ)
    if len(argv) != 2:
        _misuse("usage: driver.py CODE_FILE")
    result_fd = _claim_fds(result_fd)
    compile_only = environ.get("LEDGERBOX_COMPILE_ONLY") == "1"
    warm = argv[1] == "--warm"
    if warm:
        max_rows, compile_only, source = _warm_up()
        argv = [argv[0], CODE_FILE]
    else:
        try:
            with open(argv[1], "rb") as file:
                source = file.read()
        except OSError as error:
            _misuse(f"cannot read {argv[1]!r}: {error.strerror}")

    result = {"table": None, "error": None, "figures": []}
    try:
        program = _Program(source)
    except Exception as error:
        result["error"] = _compile_error(error, source)
        status = EXIT_ERROR
    else:
        if compile_only:
            # A check of generated code before its run: it compiles; nothing ran.
            status = EXIT_OK
        else:
            # A fresh __main__ module, as for a script: pickle and friends look
            # the analyst's classes up in sys.modules["__main__"].
            module = type(sys)("__main__")
            _modules["__main__"] = module
            sys.argv = argv[1:]
            pid = _os_getpid()
            value = failure = None
            try:
                value = _run(program, module.__dict__)
            except BaseException as error:  # whatever the analyst's code raised
                failure = error
            _restore_builtins(_BUILTINS)
            status = EXIT_OK
            if failure is not None:
                status, result["error"] = _run_error(failure, source, program.last_line)
            if _os_getpid() != pid:
                # A fork() in the analyst's code fell through to here: only the
                # original process saves figures and reports.
                _flush_output()
                _os_exit(status)
            result["figures"] = _save_figures(out_dir)
            if value is not None:
                try:
                    result["table"] = _table(value, max_rows)
                except BaseException as error:
                    _say(f"ledgerbox: cannot convert the result table: {type(error).__name__}: {_text(error)}\n")
                    status = EXIT_ERROR
                    result["error"] = {
                        "type": type(error).__name__,
                        "message": f"cannot convert the result table: {_text(error)}",
                        "line": program.last_line,
                        "stage": "run",
                    }
            # Drop the analyst's objects as interpreter shutdown would, so files
            # they left open are flushed before the host reads /out.
            module.__dict__.clear()
            _collect_garbage()

    if warm:
        # First, so the host finds it without parsing the table: with the
        # result whole and every stream closed, a warm run is complete.
        result = {"exit": status, **result}
    if result_fd is not None:
        try:
            _write_all(result_fd, (_json(result) + "\n").encode("utf-8"))
            _os_close(result_fd)
        except OSError:
            pass  # the host went away; nothing left to tell it
    _flush_output()
    if warm:
        # Every descriptor, the analyst's copies of stdout and stderr in
        # this process too: their end of file tells the host the run is
        # over, so it need not wait for this interpreter to tear down its
        # address space (docs/warm-pool.md).
        _os_closerange(0, 1 << 16)
    return status


if __name__ == "__main__":
    # os._exit: skip interpreter shutdown, where a stdout the analyst closed
    # would turn the exit status into 120 and their atexit hooks would run
    # after the result.
    _os_exit(main(sys.argv, os.environ))
