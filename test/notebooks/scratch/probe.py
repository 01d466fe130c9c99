import sys, time, json, queue
from jupyter_client.manager import start_new_kernel
km, kc = start_new_kernel(kernel_name="tslab", startup_timeout=60, cwd=".")
cells = [
 'let a: number = 1 + 1; a',
 'throw new Error("boom")',
 'console.log("after throw")',
 'Promise.reject(new Error("rejected-sync"));',
 'setTimeout(() => Promise.reject(new Error("rejected-late")), 300); 1',
 'await new Promise(r => setTimeout(r, 600)); "waited"',
 'console.error("to stderr")',
 'setTimeout(() => { throw new Error("thrown-late") }, 300); 2',
 'await new Promise(r => setTimeout(r, 600)); "waited2"',
 'const x: string = 5;',
 'async function f() { throw new Error("async-boom") }\nawait f()',
 'process.exitCode; process.stderr.write("raw stderr\\n"); 3',
]
for code in cells:
    time.sleep(0.3)
    mid = kc.execute(code)
    t0=time.time()
    print("=== CELL:", code.replace("\n","\\n"))
    while True:
        try: msg = kc.get_iopub_msg(timeout=10)
        except queue.Empty: print("  (iopub timeout)"); break
        same = msg["parent_header"].get("msg_id") == mid
        t = msg["msg_type"]
        if t == "status":
            if same and msg["content"]["execution_state"] == "idle": break
            continue
        if t == "execute_input": continue
        print(f"  iopub {'' if same else '[OTHER PARENT] '}{t}: {json.dumps(msg['content'])[:300]}")
    while True:
        rep = kc.get_shell_msg(timeout=10)
        if rep["parent_header"].get("msg_id") == mid: break
    print("  reply:", json.dumps(rep["content"])[:300], f"{time.time()-t0:.2f}s")
# drain
time.sleep(1)
while True:
    try: msg = kc.get_iopub_msg(timeout=1)
    except queue.Empty: break
    print("  late:", msg["msg_type"], json.dumps(msg["content"])[:200])
kc.stop_channels(); km.shutdown_kernel()
