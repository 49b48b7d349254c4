// Runs a Python script under real Pyodide (npm `pyodide`, pinned in package.json) in
// Node, offline: `node run.mjs request.json`. The request names the script, the host
// directories to mount into Pyodide's file system (the working tree's src/, pure-Python
// packages from the local environment) and a JSON payload; the script's `main_json`
// gets the payload and its return value is printed on stdout.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const request = JSON.parse(readFileSync(process.argv[2], "utf8"));
const pyodideDir = request.pyodide_dir || path.resolve(here, "../../node_modules/pyodide");
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);

const pyodide = await loadPyodide({
  indexURL: pyodideDir + path.sep,
  stdout: (line) => process.stderr.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const [hostDir, target] of request.mounts || []) {
  pyodide.FS.mkdirTree(target);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: hostDir }, target);
}
for (const [hostFile, target] of request.files || []) {
  pyodide.FS.mkdirTree(path.posix.dirname(target));
  pyodide.FS.writeFile(target, readFileSync(hostFile));
}
const script = readFileSync(request.script, "utf8");
const namespace = pyodide.toPy({ __name__: "driver" });  // not __main__: the script's CLI block stays out
pyodide.runPython(script, { globals: namespace, filename: request.script });
const main = namespace.get("main_json");
const out = await main(JSON.stringify(request.payload));
process.stdout.write(out + "\n");
