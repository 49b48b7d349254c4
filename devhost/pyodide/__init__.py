"""Real Pyodide (npm `pyodide`, the CPython-in-WebAssembly the Workers runtime runs) for
the local platform: run.mjs loads it in Node offline, driver.py runs the pure core in
it (imports under the runtime's rules, cases, timings), harness.py calls both from
Python and runs the same driver on CPython for comparison."""
