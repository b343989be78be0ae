// ort_bench.js — ONNX Runtime's side of bench/infer: every subnet's ONNX
// export in one session each, on THREADS intra-op threads (one inter-op
// thread, all graph optimisations).
//
//     node ort_bench.js DIR NSUBNETS THREADS C H W
//
// Prints "version V" (onnxruntime-node's), "diff i D" (max |logits -
// DIR/s{i}.logits| at batch 64) per subnet and "ready", then answers each
// stdin line "SUBNET BATCH REPS" with one line of REPS times in
// microseconds of session.run at that batch, after two untimed warm-up
// runs.
'use strict';
const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

function floats(path) {
	const b = fs.readFileSync(path);
	return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function main() {
	console.log(`version ${require('onnxruntime-node/package.json').version}`);
	const [dir, nsub, threads, c, h, w] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
	const x = floats(`${dir}/x_nchw.bin`), px = c * h * w;
	const sessions = [], feeds = {};
	for (let i = 0; i < nsub; i++) {
		const s = await ort.InferenceSession.create(`${dir}/s${i}.onnx`,
			{ intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
			  executionMode: 'sequential' });
		sessions.push(s);
		const got = (await s.run({ input: new ort.Tensor('float32', x, [64, c, h, w]) })).logits.data;
		const want = floats(`${dir}/s${i}.logits`);
		let d = 0;
		for (let k = 0; k < want.length; k++)
			d = Math.max(d, Math.abs(got[k] - want[k]));
		console.log(`diff ${i} ${d.toPrecision(3)}`);
	}
	console.log('ready');
	const rl = readline.createInterface({ input: process.stdin });
	for await (const line of rl) {
		const [i, n, reps] = line.trim().split(/\s+/).map(Number);
		if (!(i >= 0 && i < nsub && n >= 1 && n <= 64 && reps >= 1))
			throw new Error(`request '${line}': expected SUBNET BATCH REPS`);
		const key = `${n}`;
		if (!feeds[key])
			feeds[key] = { input: new ort.Tensor('float32', x.slice(0, n * px), [n, c, h, w]) };
		await sessions[i].run(feeds[key]);
		await sessions[i].run(feeds[key]);
		const t = [];
		for (let r = 0; r < reps; r++) {
			const t0 = process.hrtime.bigint();
			await sessions[i].run(feeds[key]);
			t.push((Number(process.hrtime.bigint() - t0) / 1e3).toFixed(2));
		}
		console.log(t.join(' '));
	}
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
