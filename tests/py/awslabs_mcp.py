#!/usr/bin/env python3
"""Run the real `awslabs-aws-api-mcp-server` (PyPI, 1.5.6) as an offline MCP test peer.

The server offers the `call_aws` tool over MCP Streamable HTTP (no auth) on 127.0.0.1 and runs
every AWS call against a moto server. It needs a venv of its own (it requires boto3>=1.41 while
checkov 3.3.30 pins boto3==1.35.49); run this file with that venv's python (stdlib only here):

    <mcp-venv>/bin/python tests/py/awslabs_mcp.py --moto http://127.0.0.1:5000 [--port N]

Once the server accepts connections, exactly one line is written to stdout:

    {"url": "http://127.0.0.1:PORT/mcp"}

and nothing else ever goes to stdout (the server's logs go to stderr, or to --log FILE). The
launcher then runs until its stdin reaches EOF, or it gets SIGTERM/SIGINT/SIGHUP; it then stops
the server (SIGTERM, SIGKILL after a grace period) and removes its scratch directory.
  * Keep stdin as an open pipe (Rust: `Stdio::piped()`, keep the `ChildStdin`): an inherited
    /dev/null or closed stdin is an immediate EOF and the launcher stops at once. Drop the pipe
    (or send SIGTERM) to stop it. `--ignore-stdin` is for running it by hand.
  * If the launcher is SIGKILLed (Rust's `Child::kill`), the kernel kills the server too
    (PR_SET_PDEATHSIG); only the scratch directory under $TMPDIR is left behind.
  * Drain or discard stderr (or pass --log): the server logs each call at INFO, and a full,
    unread stderr pipe would block it.
  * The exit status is 0 after a requested stop, non-zero if the server failed to start or died.

Configuration given to the server (all environment variables it reads; inherited AWS_*,
FASTMCP_* and proxy variables are removed first so the developer's setup cannot leak in):
  AWS_API_MCP_TRANSPORT=streamable-http, AUTH_TYPE=no-auth, AWS_API_MCP_HOST=127.0.0.1,
  AWS_API_MCP_PORT, AWS_API_MCP_ALLOWED_HOSTS=127.0.0.1,localhost (Host-header check),
  READ_OPERATIONS_ONLY=true (false with --allow-writes), AWS_ENDPOINT_URL=<moto>,
  AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=testing, AWS_REGION=us-east-1 (--region),
  AWS_API_MCP_WORKING_DIR and HOME in a scratch directory (the server writes its log file to
  ~/.aws/aws-api-mcp/ and reads an optional security policy from there). Add or override any
  variable with --env KEY=VALUE (e.g. --env FASTMCP_LOG_LEVEL=WARNING).

Network accesses of the server and how each is made offline (nothing here edits the installed
package; the stubs are set in the server's own process before it starts):
  1. Service reference index (start-up, fatal offline): main() GETs
     https://servicereference.us-east-1.amazonaws.com/ (a JSON list of {service, url}) to build
     the read-only index that READ_OPERATIONS_ONLY relies on, and refuses to start if that fails.
     The module constant SERVICE_REFERENCE_URL is pointed at a stub on 127.0.0.1 that answers `[]`.
  2. Per-service reference documents (per call): for an operation that the bundled
     data/api_metadata.json does not mark "ReadOnly", the server GETs that service's document
     (listed in the index) to learn whether it writes. With the empty index no document is ever
     fetched: such operations count as writes and are refused in read-only mode (fail closed).
     This covers writes (CreateBucket, RunInstances, ...) but also a few reads that the bundled
     metadata marks "Unknown" (e.g. s3api head-bucket/head-object), which the online server
     allows when the live document says they do not write. Reads marked "ReadOnly" there
     (s3api list-buckets, ec2 describe-*, sts get-caller-identity, organizations list-*, ...)
     work.
  3. suggest_aws_commands (per call): POSTs the query to ENDPOINT_SUGGEST_AWS_COMMANDS (AWS's
     hosted recommender). That variable is pointed at the same stub, which answers
     {"suggestions": []}: the tool stays listed and answers quickly, with no suggestions.
  4. FastMCP's start-up banner asks PyPI for a newer FastMCP: FASTMCP_SHOW_SERVER_BANNER=false
     and FASTMCP_CHECK_FOR_UPDATES=off.
  5. AWS API calls: botocore honours AWS_ENDPOINT_URL, so every service goes to moto.
     AWS_EC2_METADATA_DISABLED=true and scratch AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE keep
     botocore from probing the instance metadata service or reading the developer's profiles.
  6. Telemetry: the server has no telemetry endpoint; AWS_API_MCP_TELEMETRY only adds client
     details to the User-Agent of AWS calls. It is set to false anyway.
  Finally a guard in the server process refuses to resolve or connect to any non-loopback
  address, so anything not stubbed above fails at once with a message naming the host instead
  of hanging offline (or reaching out where a network exists).

Peer behaviour worth knowing (observed with moto 5.2.5):
  * Answers to requests are `text/event-stream` (one `event: message` per JSON-RPC message, CRLF
    line ends); HTTP-level errors (400 no session, 404 unknown session, 406 bad Accept) are JSON;
    notifications get 202 with an empty body. A command that fails validation or is refused is
    preceded by one or two `notifications/message` (level error) events in the same stream:
    read until the event whose `id` matches.
  * `call_aws` returns `structuredContent.result[]` (one entry per command, also as JSON text in
    `content[0].text`): `{cli_command, response: {as_json, status_code, error, error_code,
    pagination_token}, metadata, ...}`, or `{cli_command, error}` when refused, invalid or not
    executed. `isError` stays false; AWS errors from moto land in `response.error`/`error_code`.
  * `cli_command` is split like a shell line (Python shlex: quotes, no expansion);
    `--cli-input-json` is accepted but silently ignored: pass parameters as flags, JSON values
    included (`--filters '<json>'`).
  * Any `Origin` header is refused (the server's default allowed-origins list never matches).
  * `--region '*'` needs account:ListRegions, which moto does not serve: such commands fail.
"""

from __future__ import annotations

import argparse
import http.server
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

MCP_PATH = '/mcp'  # FastMCP's default streamable-http path; FASTMCP_* is not inherited.
SERVE_FLAG = '--serve'  # internal: run the server itself (in the child process)
STUB_URL_ENV = 'OPSBOT_AWSLABS_STUB_URL'  # internal: base URL of the stub, for the child
PARENT_PID_ENV = 'OPSBOT_AWSLABS_PARENT_PID'  # internal: for the parent-death check
SERVICE_REFERENCE_PATH = '/service-reference/'
SUGGEST_PATH = '/suggest-aws-commands'
STOP_GRACE_SECONDS = 5.0

# Inherited variables that would change the server's behaviour; removed before ours are set.
CONTROLLED_PREFIXES = ('AWS_', 'FASTMCP_')
CONTROLLED_NAMES = {
    'READ_OPERATIONS_ONLY',
    'REQUIRE_MUTATION_CONSENT',
    'EXPERIMENTAL_AGENT_SCRIPTS',
    'AUTH_TYPE',
    'AUTH_ISSUER',
    'AUTH_JWKS_URI',
    'ENDPOINT_SUGGEST_AWS_COMMANDS',
    'HTTP_PROXY',
    'HTTPS_PROXY',
    'ALL_PROXY',
    'NO_PROXY',
    'XDG_CONFIG_HOME',
    'XDG_DATA_HOME',
    'XDG_CACHE_HOME',
}


def is_loopback_host(host) -> bool:
    """True for localhost names and loopback IP literals (127.0.0.0/8, ::1)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode('ascii', 'replace')
    name = str(host).strip('[]').lower()
    if name == 'localhost' or name.endswith('.localhost'):
        return True
    try:
        return ipaddress.ip_address(name.split('%')[0]).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# Child side: the server process.
# --------------------------------------------------------------------------------------------


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when the launcher dies, even by SIGKILL."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except Exception:  # not Linux: the stdin/SIGTERM paths still stop the server
        return
    # The parent may have died before prctl took effect.
    if str(os.getppid()) != os.environ.get(PARENT_PID_ENV):
        os._exit(1)


def install_network_guard() -> None:
    """Refuse name resolution and connections to anything but loopback, in this process.

    Every fetch the server needs is stubbed on 127.0.0.1 and AWS calls go to moto on loopback;
    an unexpected outside access then fails immediately and says which host it wanted.
    """
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def refuse(what: str):
        raise ConnectionRefusedError(
            f'awslabs_mcp.py offline guard: refused {what} (only loopback is allowed)'
        )

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not is_loopback_host(host):
            raise socket.gaierror(
                socket.EAI_NONAME,
                f'awslabs_mcp.py offline guard: refused to resolve {host!r} (only loopback)',
            )
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback_host(address[0]):
            refuse(f'a connection to {address[0]!r}')

    def guarded_connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex


def serve() -> int:
    """Child process: apply the stubs, then run the server's own main() until signalled."""
    die_with_parent()
    install_network_guard()
    stub = os.environ[STUB_URL_ENV]

    # Stub 1/2: the read-only index is built from this URL at start-up (fatal if unreachable).
    # The module reads the constant at call time, so rebinding it before main() is enough.
    from awslabs.aws_api_mcp_server.core.metadata import read_only_operations_list

    read_only_operations_list.SERVICE_REFERENCE_URL = stub + SERVICE_REFERENCE_PATH

    # Importing the server reads the configuration from the environment set by the launcher.
    from awslabs.aws_api_mcp_server import server

    server.main()  # returns after uvicorn's graceful shutdown on SIGTERM/SIGINT
    return 0


# --------------------------------------------------------------------------------------------
# Launcher side.
# --------------------------------------------------------------------------------------------


class StubHandler(http.server.BaseHTTPRequestHandler):
    """Loopback stand-ins for AWS's service reference index and command recommender."""

    log_stream = sys.stderr

    def _reply(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (http.server naming)
        if urllib.parse.urlsplit(self.path).path == SERVICE_REFERENCE_PATH:
            # An empty index: only the bundled metadata decides what is read-only.
            self._reply(200, [])
        else:
            self._reply(404, {'message': f'no stub for GET {self.path}'})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(length)
        if urllib.parse.urlsplit(self.path).path == SUGGEST_PATH:
            self._reply(200, {'suggestions': []})
        else:
            self._reply(404, {'message': f'no stub for POST {self.path}'})

    def log_message(self, fmt, *args):
        try:
            self.log_stream.write(f'awslabs_mcp.py stub: {fmt % args}\n')
            self.log_stream.flush()
        except Exception:
            pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(('127.0.0.1', port))
        except OSError:
            return True
    return False


def accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.5):
            return True
    except OSError:
        return False


def server_env(args, port: int, stub_url: str, scratch: str) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(CONTROLLED_PREFIXES) and k.upper() not in CONTROLLED_NAMES
    }
    home = os.path.join(scratch, 'home')
    workdir = os.path.join(scratch, 'workdir')
    os.makedirs(os.path.join(home, '.aws'), exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    env.update(
        {
            # Transport: Streamable HTTP on loopback without auth (AUTH_TYPE is required with it).
            'AWS_API_MCP_TRANSPORT': 'streamable-http',
            'AUTH_TYPE': 'no-auth',
            'AWS_API_MCP_HOST': '127.0.0.1',
            'AWS_API_MCP_PORT': str(port),
            'AWS_API_MCP_ALLOWED_HOSTS': '127.0.0.1,localhost',
            'READ_OPERATIONS_ONLY': 'false' if args.allow_writes else 'true',
            'REQUIRE_MUTATION_CONSENT': 'false',
            # AWS: moto, test credentials, no profile files, no instance metadata probing.
            'AWS_ENDPOINT_URL': args.moto,
            'AWS_ACCESS_KEY_ID': 'testing',
            'AWS_SECRET_ACCESS_KEY': 'testing',
            'AWS_REGION': args.region,
            'AWS_DEFAULT_REGION': args.region,
            'AWS_EC2_METADATA_DISABLED': 'true',
            'AWS_CONFIG_FILE': os.path.join(home, '.aws', 'config'),
            'AWS_SHARED_CREDENTIALS_FILE': os.path.join(home, '.aws', 'credentials'),
            # Files the server writes or reads under HOME and its working directory.
            'HOME': home,
            'XDG_CONFIG_HOME': os.path.join(home, '.config'),
            'XDG_DATA_HOME': os.path.join(home, '.local', 'share'),
            'XDG_CACHE_HOME': os.path.join(home, '.cache'),
            'AWS_API_MCP_WORKING_DIR': workdir,
            # Stub 3: the suggest_aws_commands backend.
            'ENDPOINT_SUGGEST_AWS_COMMANDS': stub_url + SUGGEST_PATH,
            # Stub 4: no banner, hence no PyPI version check; no stray .env file.
            'FASTMCP_SHOW_SERVER_BANNER': 'false',
            'FASTMCP_CHECK_FOR_UPDATES': 'off',
            'FASTMCP_ENV_FILE': os.path.join(scratch, 'no.env'),
            # 6: only affects the User-Agent, off for good measure.
            'AWS_API_MCP_TELEMETRY': 'false',
            'NO_PROXY': '*',
            'no_proxy': '*',
            'PYTHONUNBUFFERED': '1',
            STUB_URL_ENV: stub_url,
            PARENT_PID_ENV: str(os.getpid()),
        }
    )
    for item in args.env:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'awslabs_mcp.py: --env expects KEY=VALUE, got {item!r}')
        env[key] = value
    return env


def stop_child(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully
    try:
        child.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:  # e.g. a client still holds an SSE stream open
        child.kill()
        child.wait()


def parse_args(argv):
    p = argparse.ArgumentParser(
        description='Run awslabs-aws-api-mcp-server offline against moto (see module docstring).'
    )
    p.add_argument('--moto', required=True, help='moto server URL, e.g. http://127.0.0.1:5000')
    p.add_argument('--port', type=int, default=0, help='port to serve on (default: a free one)')
    p.add_argument('--region', default='us-east-1', help='AWS_REGION (default us-east-1)')
    p.add_argument('--allow-writes', action='store_true', help='READ_OPERATIONS_ONLY=false')
    p.add_argument('--log', metavar='FILE', help='append server logs here instead of stderr')
    p.add_argument('--startup-timeout', type=float, default=60.0, metavar='SECONDS')
    p.add_argument('--ignore-stdin', action='store_true', help='do not stop on stdin EOF')
    p.add_argument(
        '--env', action='append', default=[], metavar='KEY=VALUE', help='extra server env'
    )
    args = p.parse_args(argv)
    moto = urllib.parse.urlsplit(args.moto)
    if moto.scheme not in ('http', 'https') or not moto.hostname or not is_loopback_host(
        moto.hostname
    ):
        p.error('--moto must be an http(s) URL on a loopback address')
    args.moto = args.moto.rstrip('/')
    return args


def main(argv) -> int:
    args = parse_args(argv)
    try:
        import importlib.util

        if importlib.util.find_spec('awslabs.aws_api_mcp_server') is None:
            raise ImportError
    except ImportError:
        sys.stderr.write(
            f'awslabs_mcp.py: awslabs-aws-api-mcp-server is not installed for {sys.executable};'
            ' run this file with the MCP venv python\n'
        )
        return 2

    if args.port and port_in_use(args.port):
        sys.stderr.write(f'awslabs_mcp.py: port {args.port} is already in use\n')
        return 1

    log = open(args.log, 'a', buffering=1) if args.log else sys.stderr

    def say(msg: str) -> None:
        log.write(f'awslabs_mcp.py: {msg}\n')
        log.flush()

    stop = threading.Event()
    stop_reason = ['']

    def request_stop(reason: str) -> None:
        if not stop.is_set():
            stop_reason[0] = reason
            stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: request_stop(signal.Signals(signum).name))

    if not args.ignore_stdin:

        def watch_stdin() -> None:
            # os.read on the raw descriptor: a daemon thread blocked inside sys.stdin's
            # buffered reader would make the interpreter abort at exit (it holds its lock).
            try:
                while os.read(0, 65536):
                    pass
            except OSError:  # closed or no stdin at all: same as EOF
                pass
            request_stop('stdin EOF')

        threading.Thread(target=watch_stdin, name='stdin-eof', daemon=True).start()

    StubHandler.log_stream = log
    stub = http.server.ThreadingHTTPServer(('127.0.0.1', 0), StubHandler)
    stub.daemon_threads = True
    threading.Thread(target=stub.serve_forever, name='stub', daemon=True).start()
    stub_url = f'http://127.0.0.1:{stub.server_address[1]}'

    scratch = tempfile.mkdtemp(prefix='awslabs-mcp-')
    child = None
    status = 0
    try:
        started = time.monotonic()
        attempts = 1 if args.port else 3  # a free port can be taken between probe and bind
        for attempt in range(1, attempts + 1):
            port = args.port or free_port()
            child = subprocess.Popen(
                [sys.executable, '-u', os.path.abspath(__file__), SERVE_FLAG],
                env=server_env(args, port, stub_url, scratch),
                cwd=scratch,
                stdin=subprocess.DEVNULL,
                stdout=log,  # never our stdout: that carries only the URL line
                stderr=log,
            )
            deadline = time.monotonic() + args.startup_timeout
            while not stop.is_set() and child.poll() is None and time.monotonic() < deadline:
                if accepts_connections(port):
                    break
                time.sleep(0.05)
            if stop.is_set():
                say(f'stopping before the server was ready ({stop_reason[0]})')
                return 1
            if child.poll() is None and accepts_connections(port):
                break
            if child.poll() is None:
                say(f'server not accepting connections after {args.startup_timeout:g}s')
                return 1
            if attempt < attempts and port_in_use(port):
                say(f'port {port} was taken, retrying on another one')
                continue
            say(f'server exited during start-up with status {child.returncode}')
            return 1

        url = f'http://127.0.0.1:{port}{MCP_PATH}'
        say(f'ready at {url} after {time.monotonic() - started:.2f}s')
        try:
            sys.stdout.write(json.dumps({'url': url}) + '\n')
            sys.stdout.flush()
        except BrokenPipeError:
            pass

        while not stop.wait(0.2):
            if child.poll() is not None:
                say(f'server exited unexpectedly with status {child.returncode}')
                status = 1
                break
        if stop.is_set():
            say(f'stopping ({stop_reason[0]})')
        return status
    finally:
        if child is not None:
            stop_child(child)
        stub.shutdown()
        stub.server_close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == '__main__':
    if sys.argv[1:] == [SERVE_FLAG]:
        sys.exit(serve())
    sys.exit(main(sys.argv[1:]))
