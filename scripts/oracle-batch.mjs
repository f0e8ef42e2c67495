#!/usr/bin/env node
// Runs many .tflite models through the TFLite oracle (LiteRT.js, see
// ../shared/tools/oracle/README.md) in one Node process, so that a test
// with thousands of small models pays for the Wasm start-up once.
//
//   node scripts/oracle-batch.mjs [--oracle DIR] JOBS.json
//
// DIR (or $EDGED_ORACLE) is an oracle directory with oracle.mjs and its
// node_modules (scripts/oracle-setup.sh prints one). JOBS.json is
//
//   [{"model": "a.tflite", "inputs": ["in0.bin", ...], "out_dir": "DIR"}, ...]
//
// with inputs as raw little-endian bytes in subgraph input order. For each
// job the script writes, in out_dir, either output_K.bin for every
// subgraph output followed by "ok", or "error.txt" with the reason; one
// failing job does not stop the others. It also prints one JSON line per
// job on stdout. Paths are taken relative to the current directory.
//
// A model that corrupts the Wasm heap can kill the process; the caller
// then finds the first job with "started" but neither "ok" nor
// "error.txt" (jobs run in order), records it as crashed and restarts
// with the remaining jobs.

import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';

function usage(msg) {
  process.stderr.write(`oracle-batch: ${msg}\nusage: node oracle-batch.mjs [--oracle DIR] JOBS.json\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
let oracleDir = process.env.EDGED_ORACLE;
let jobsFile;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--oracle') oracleDir = args[++i];
  else if (args[i].startsWith('--oracle=')) oracleDir = args[i].slice('--oracle='.length);
  else if (!jobsFile) jobsFile = args[i];
  else usage(`unexpected argument ${args[i]}`);
}
if (!oracleDir) usage('no oracle directory: pass --oracle DIR or set EDGED_ORACLE');
if (!jobsFile) usage('no job list');
const oracleMjs = path.resolve(oracleDir, 'oracle.mjs');
if (!fs.existsSync(oracleMjs)) usage(`${oracleMjs} does not exist`);

// oracle.mjs only runs its CLI when invoked as oracle.mjs, so importing it
// gives openModel (compat patches + signature mapping) and runOnce.
const oracle = await import(pathToFileURL(oracleMjs).href);
const {DTYPE_BYTES} = await import(pathToFileURL(path.resolve(oracleDir, 'tflite_reader.mjs')).href);
const {loadRuntime} = await import(pathToFileURL(path.resolve(oracleDir, 'runtime.mjs')).href);

const jobs = JSON.parse(fs.readFileSync(jobsFile, 'utf8'));
if (!Array.isArray(jobs)) usage('the job list must be a JSON array');

const rt = await loadRuntime();

async function runJob(job) {
  const sess = await oracle.openModel(job.model, {threads: 1});
  try {
    const files = job.inputs ?? [];
    if (files.length !== sess.inputTensors.length) {
      throw new Error(`model has ${sess.inputTensors.length} inputs, job gives ${files.length}`);
    }
    const inputs = files.map((file, k) => {
      const t = sess.inputTensors[k];
      const bytes = new Uint8Array(fs.readFileSync(file));
      const need = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      if (bytes.byteLength !== need) throw new Error(`input ${k} (${t.name}): ${file} has ${bytes.byteLength} bytes, ${t.dtype}[${t.shape}] needs ${need}`);
      return {dtype: t.dtype, shape: t.shape, bytes};
    });
    const outs = await oracle.runOnce(sess, inputs);
    outs.forEach((o, k) => {
      if (!o) throw new Error(`output ${k} missing from the runtime's results`);
      fs.writeFileSync(path.join(job.out_dir, `output_${k}.bin`), o.bytes);
    });
    return {outputs: outs.map((o) => ({dtype: o.dtype, shape: o.shape}))};
  } finally {
    sess.om.delete();
  }
}

let failed = 0;
for (let i = 0; i < jobs.length; i++) {
  const job = jobs[i];
  fs.mkdirSync(job.out_dir, {recursive: true});
  for (const f of ['ok', 'error.txt']) fs.rmSync(path.join(job.out_dir, f), {force: true});
  fs.writeFileSync(path.join(job.out_dir, 'started'), '');
  let line;
  try {
    const r = await runJob(job);
    fs.writeFileSync(path.join(job.out_dir, 'ok'), JSON.stringify(r) + '\n');
    line = {job: i, ok: true, ...r};
  } catch (e) {
    failed++;
    const msg = String(e?.message ?? e);
    fs.writeFileSync(path.join(job.out_dir, 'error.txt'), msg + '\n');
    line = {job: i, ok: false, error: msg};
  }
  // The runtime's captured log grows with every model; no mark is held
  // between jobs, so it can be emptied.
  rt.log.length = 0;
  process.stdout.write(JSON.stringify(line) + '\n');
}
process.stderr.write(`oracle-batch: ${jobs.length - failed} ok, ${failed} failed\n`);
process.exit(0);
