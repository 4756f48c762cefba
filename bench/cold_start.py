# A second cold-start timer with a bare Runtime API (no threads of its own but this one):
# spawn -> first poll of /2018-06-01/runtime/invocation/next, median of N starts.
# Usage: python3 bench/cold_start.py target/release/users 40 [NAME=VALUE ...]
import os, socket, subprocess, sys, time, statistics
binary, runs = sys.argv[1], int(sys.argv[2])
extra = dict(kv.split("=", 1) for kv in sys.argv[3:])
times = []
for i in range(runs):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0)); s.listen(4); port = s.getsockname()[1]
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{port}", AWS_LAMBDA_FUNCTION_NAME="x",
               AWS_LAMBDA_FUNCTION_MEMORY_SIZE="512", AWS_LAMBDA_FUNCTION_VERSION="1", AWS_REGION="us-east-1",
               AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", TABLE_NAME="t", RUST_LOG="warn",
               JWT_KEYS_FILE=os.path.abspath(".local/jwt-keys.json"), **extra)
    t0 = time.perf_counter()
    p = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c, _ = s.accept(); c.recv(4096)
    times.append((time.perf_counter() - t0) * 1000)
    p.kill(); p.wait(); c.close(); s.close()
print(f"{os.path.basename(binary)} {extra}: median {statistics.median(times):.2f} ms")
