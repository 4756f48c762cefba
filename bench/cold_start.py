# A second cold-start timer with a bare Runtime API (no threads of its own but this one):
# spawn -> first poll of /2018-06-01/runtime/invocation/next, medians of RUNS starts of each
# binary, interleaved so that all see the same machine, with the page faults per start.
# Usage: python3 bench/cold_start.py RUNS BINARY... [NAME=VALUE ...]
import os, resource, socket, statistics, subprocess, sys, time

runs = int(sys.argv[1])
binaries = [a for a in sys.argv[2:] if "=" not in a]
extra = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
times = {b: [] for b in binaries}
faults = {b: [] for b in binaries}


def start(binary):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    port = s.getsockname()[1]
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME="x",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", TABLE_NAME="t", RUST_LOG="warn",
               JWT_KEYS_FILE=os.path.abspath(".local/jwt-keys.json"), **extra)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c, _ = s.accept()
    c.recv(4096)
    times[binary].append((time.perf_counter() - t0) * 1000)
    p.kill()
    p.wait()
    c.close()
    s.close()
    faults[binary].append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_minflt - before)


for _ in range(runs):
    for binary in binaries:
        start(binary)
for binary in binaries:
    print(f"{binary} {extra or ''}: median {statistics.median(times[binary]):.2f} ms, "
          f"{statistics.median(faults[binary]):.0f} page faults")
