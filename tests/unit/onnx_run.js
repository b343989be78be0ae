// onnx_run.js — exported models run by ONNX Runtime (onnxruntime-node) and
// compared with the logits our runtime gave, for test_export_onnx and
// tests/integration/archc_export.sh.
//
//     node onnx_run.js DIR NAME...
//
// For each NAME: DIR/NAME.onnx, DIR/NAME.shape ("N C H W K"), DIR/NAME.in
// (N*C*H*W float32, NCHW, little-endian) and DIR/NAME.want (N*K float32).
// Prints "NAME max_abs_diff argmax_mismatches" per model, on one thread.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function floats(path) {
	const b = fs.readFileSync(path);
	return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

function argmax(v, off, k) {
	let b = 0;
	for (let i = 1; i < k; i++)
		if (v[off + i] > v[off + b])
			b = i;
	return b;
}

async function main() {
	const [dir, ...names] = process.argv.slice(2);
	for (const name of names) {
		const [n, c, h, w, k] = fs.readFileSync(`${dir}/${name}.shape`, 'utf8').trim().split(/\s+/).map(Number);
		const session = await ort.InferenceSession.create(`${dir}/${name}.onnx`,
			{ intraOpNumThreads: 1, interOpNumThreads: 1 });
		const input = new ort.Tensor('float32', floats(`${dir}/${name}.in`), [n, c, h, w]);
		const out = await session.run({ input });
		const got = out.logits.data, want = floats(`${dir}/${name}.want`);
		if (got.length !== n * k)
			throw new Error(`${name}: ${got.length} logits, expected ${n * k}`);
		let diff = 0, mismatch = 0;
		for (let i = 0; i < n * k; i++)
			diff = Math.max(diff, Math.abs(got[i] - want[i]));
		for (let r = 0; r < n; r++)
			if (argmax(got, r * k, k) !== argmax(want, r * k, k))
				mismatch++;
		console.log(`${name} ${diff} ${mismatch}`);
	}
}

main().catch((e) => { console.error(e.message); process.exit(1); });
