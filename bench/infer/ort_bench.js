// ort_bench.js — ONNX Runtime's side of bench/infer: each subnet's ONNX
// export timed at batch 1 and 64 (medians of REPS runs, after a warm-up)
// on THREADS intra-op threads, its logits compared with the runtime's.
//
//     node ort_bench.js DIR NSUBNETS THREADS REPS C H W
//
// Prints "subnet i b1_us=T b64_us=T max_abs_diff=D" per subnet.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function floats(path) {
	const b = fs.readFileSync(path);
	return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

async function median(session, feeds, reps) {
	await session.run(feeds);
	const t = [];
	for (let r = 0; r < reps; r++) {
		const t0 = process.hrtime.bigint();
		await session.run(feeds);
		t.push(Number(process.hrtime.bigint() - t0) / 1e3);
	}
	t.sort((a, b) => a - b);
	return t[Math.floor(reps / 2)];
}

async function main() {
	const [dir, nsub, threads, reps, c, h, w] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
	const x = floats(`${dir}/x_nchw.bin`), px = c * h * w;
	for (let i = 0; i < nsub; i++) {
		const session = await ort.InferenceSession.create(`${dir}/s${i}.onnx`,
			{ intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
		const one = { input: new ort.Tensor('float32', x.slice(0, px), [1, c, h, w]) };
		const all = { input: new ort.Tensor('float32', x, [64, c, h, w]) };
		const b1 = await median(session, one, reps), b64 = await median(session, all, reps);
		const got = (await session.run(all)).logits.data, want = floats(`${dir}/s${i}.logits`);
		let d = 0;
		for (let k = 0; k < want.length; k++)
			d = Math.max(d, Math.abs(got[k] - want[k]));
		console.log(`subnet ${i} b1_us=${b1.toFixed(1)} b64_us=${b64.toFixed(1)} max_abs_diff=${d.toPrecision(3)}`);
	}
}

main().catch((e) => { console.error(e.message); process.exit(1); });
