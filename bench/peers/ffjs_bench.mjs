// Times ffjavascript's BN254 kernels for bench/kernels.py (see bench/peers.py).
//
// Usage: node ffjs_bench.mjs SPEC.json
// SPEC: {"single_thread": bool, "repeat": int, "tasks": [
//   {"kind": "msm", "name": str, "bases": path, "scalars": path},  // G1.multiExpAffine
//   {"kind": "fft", "name": str, "values": path, "out": path}]}    // Fr.fft
// bases: n affine G1 points, x‖y, 32-byte little-endian Montgomery words (ffjavascript's
// "LEM" affine layout, as G1.toRprLEM writes it); scalars: n 32-byte little-endian Fr
// elements in standard form; values: n 32-byte little-endian Fr elements, Montgomery form.
// Prints one JSON line: {"version", "concurrency", "results": {name: {...}}} where an MSM
// result holds the affine sum as decimal strings and an FFT writes its output buffer to
// "out" (same layout as "values"). Times are seconds: the first call and the best of
// "repeat" further calls.
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { buildBn128 } from "ffjavascript";

const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));
const version = JSON.parse(
    readFileSync(new URL("./node_modules/ffjavascript/package.json", import.meta.url), "utf8"),
).version;

async function timed(fn, repeat) {
    let start = performance.now();
    let value = await fn();
    const first = (performance.now() - start) / 1000;
    let best = Infinity;
    for (let i = 0; i < repeat; i++) {
        start = performance.now();
        value = await fn();
        best = Math.min(best, (performance.now() - start) / 1000);
    }
    return { first, best, value };
}

const curve = await buildBn128(spec.single_thread === true);
const concurrency = curve.tm.concurrency;
const results = {};
try {
    for (const task of spec.tasks) {
        if (task.kind === "msm") {
            const bases = new Uint8Array(readFileSync(task.bases));
            const scalars = new Uint8Array(readFileSync(task.scalars));
            const { first, best, value } = await timed(
                () => curve.G1.multiExpAffine(bases, scalars),
                spec.repeat,
            );
            const [x, y] = curve.G1.toObject(curve.G1.toAffine(value));
            results[task.name] = { first_s: first, best_s: best, x: x.toString(), y: y.toString() };
        } else if (task.kind === "fft") {
            const values = new Uint8Array(readFileSync(task.values));
            const { first, best, value } = await timed(() => curve.Fr.fft(values), spec.repeat);
            writeFileSync(task.out, value);
            results[task.name] = { first_s: first, best_s: best };
        } else {
            throw new Error(`unknown task kind ${task.kind}`);
        }
    }
} finally {
    await curve.terminate();
}
console.log(JSON.stringify({ version, concurrency, results }));
